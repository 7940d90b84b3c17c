/*! debt-rights-bot chat widget. One file, no build step, no dependencies. Docs: README (Web widget). */
(() => {
  'use strict';
  const W = window, D = document, TAG = 'debt-rights-chat', EV = TAG + ':';
  if (!W.customElements || customElements.get(TAG)) return; // old browser, or loaded twice

  const script = D.currentScript || D.querySelector('script[src*="widget.js"]');
  const ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  // ---- strings (zh-Hant is the OpenCC s2t form of zh-Hans) --------------------------------------------------------
  const K = 'title launch greet privacy input send close clear exit exitL lang log typing src rel clar fb fbq yes no thanks net down timeout http rate retry human crisis you bot starters'.split(' ');
  const S = (a) => Object.fromEntries(K.map((k, i) => [k, a[i]]));
  const T = {
    'zh-Hans': S(['催收权益问答', '问问我的权利',
      '你好！我可以告诉你：在中国大陆被催收时，你有哪些权利、催收方哪些做法违法、可以怎么投诉。我不是律师，回答是一般法律信息，不是法律意见。',
      '对话记录只在这个浏览器标签页里；点「快速离开」会立即清除并隐藏。答不上来的问题会去掉电话、证件号等后保存一段时间，用来改进回答。',
      '输入你的问题', '发送', '关闭聊天窗口', '清空对话', '快速离开', '快速离开：清除对话并隐藏聊天窗口', '语言', '对话记录',
      '正在回答…', '依据', '相关问题', '你是想问：', '你可以试试这些问题：', '这个回答有帮助吗？', '有帮助', '没帮助', '谢谢反馈',
      '暂时连不上服务，请检查网络后重试。急需帮助可拨打12348公共法律服务热线。',
      '服务暂时出错了，请稍后重试。急需帮助可拨打12348公共法律服务热线。',
      '等待回复超过10秒，请重试。', '请求没有成功（错误 {n}）。', '消息发得太多了，请等 {n} 秒再试。', '重试', '联系人工咨询',
      '紧急求助', '你：', '助手：',
      ['欠钱不还会坐牢吗？', '催收联系我家人合法吗？', '可以给催收电话录音吗？', '怎么投诉暴力催收？']]),
    'zh-Hant': S(['催收權益問答', '問問我的權利',
      '你好！我可以告訴你：在中國大陸被催收時，你有哪些權利、催收方哪些做法違法、可以怎麼投訴。我不是律師，回答是一般法律信息，不是法律意見。',
      '對話記錄只在這個瀏覽器標籤頁裏；點「快速離開」會立即清除並隱藏。答不上來的問題會去掉電話、證件號等後保存一段時間，用來改進回答。',
      '輸入你的問題', '發送', '關閉聊天窗口', '清空對話', '快速離開', '快速離開：清除對話並隱藏聊天窗口', '語言', '對話記錄',
      '正在回答…', '依據', '相關問題', '你是想問：', '你可以試試這些問題：', '這個回答有幫助嗎？', '有幫助', '沒幫助', '謝謝反饋',
      '暫時連不上服務，請檢查網絡後重試。急需幫助可撥打12348公共法律服務熱線。',
      '服務暫時出錯了，請稍後重試。急需幫助可撥打12348公共法律服務熱線。',
      '等待回覆超過10秒，請重試。', '請求沒有成功（錯誤 {n}）。', '消息發得太多了，請等 {n} 秒再試。', '重試', '聯繫人工諮詢',
      '緊急求助', '你：', '助手：',
      ['欠錢不還會坐牢嗎？', '催收聯繫我家人合法嗎？', '可以給催收電話錄音嗎？', '怎麼投訴暴力催收？']]),
    en: S(['Debt collection: your rights', 'Know your rights',
      'Hi! I explain your rights under mainland-China law when debts are collected: what collectors may not do and how to complain. I am not a lawyer: this is general legal information, not legal advice.',
      'This chat lives only in this browser tab; "Quick exit" erases and hides it at once. Questions the bot cannot answer are kept for a while, without phone or ID numbers, to improve it.',
      'Type your question', 'Send', 'Close chat', 'Clear conversation', 'Quick exit', 'Quick exit: erase the conversation and hide the chat', 'Language', 'Conversation',
      'Answering…', 'Sources', 'Related questions', 'Did you mean:', 'You can try these questions:', 'Was this helpful?', 'Helpful', 'Not helpful', 'Thanks for the feedback',
      'Cannot reach the service. Check your connection and try again. Urgent? Call the 12348 public legal service line.',
      'The service had a problem. Please try again shortly. Urgent? Call the 12348 public legal service line.',
      'No reply within 10 seconds. Please try again.', 'The request failed (error {n}).', 'Too many messages. Please wait {n} s and try again.', 'Retry', 'Talk to a counselor',
      'Urgent help', 'You: ', 'Assistant: ',
      ['Can I go to jail for unpaid debt?', 'May collectors contact my family?', 'May I record collection calls?', 'How do I complain about abusive collection?']]),
  };
  const LANGS = [['zh-Hans', '简'], ['zh-Hant', '繁'], ['en', 'EN']];
  const normLang = (l) => {
    l = String(l || '').toLowerCase();
    if (l === 'auto' || !l) l = String((navigator.languages || [])[0] || navigator.language || '').toLowerCase();
    return !l.startsWith('zh') ? 'en' : /hant|-tw|-hk|-mo/.test(l) ? 'zh-Hant' : 'zh-Hans';
  };

  // ---- styles: a constructable stylesheet, which a strict CSP (no 'unsafe-inline') does not block ---------------
  const CSS = `
:host{display:block!important;visibility:visible!important;opacity:1!important;transform:none!important;filter:none!important;contain:none!important;content-visibility:visible!important;clip-path:none!important;position:static!important;margin:0!important;padding:0!important;border:0!important;z-index:2147483000!important}
:host([mode=inline]){height:100%}
.w{all:initial;display:block;height:100%;color-scheme:light dark;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);
--ac:var(--drc-accent,#0b57d0);--af:var(--drc-accent-fg,#fff);--bg:#fff;--fg:#1a1a1a;--mut:#5c6066;--bub:#f1f3f5;--bd:#d0d4d9;--bd2:#767676;--ln:#0b57d0;--cr:#b3261e;--crb:#fff1f0}
@media (prefers-color-scheme:dark){.w{--bg:#1e1f22;--fg:#eceff1;--mut:#b0b6bd;--bub:#2b2d31;--bd:#3c4047;--bd2:#8a9099;--ln:#8ab4f8;--cr:#ffb4ab;--crb:#3b1412}}
*,::before,::after{box-sizing:border-box}
[hidden]{display:none!important}
button,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--ln);outline-offset:2px}
.h :focus-visible,.u :focus-visible{outline-color:currentColor}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.l{position:fixed;right:20px;bottom:20px;display:flex;align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:28px;background:var(--ac);color:var(--af);font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.3)}
.l:focus-visible{outline:0;box-shadow:0 0 0 3px #fff,0 0 0 6px #111}
.l svg{width:22px;height:22px;fill:currentColor}
.p{display:flex;flex-direction:column;background:var(--bg);overflow:hidden}
.fl .p{position:fixed;right:20px;bottom:20px;width:390px;height:min(640px,calc(100vh - 40px));height:min(640px,calc(100dvh - 40px));border-radius:12px;box-shadow:0 8px 32px rgba(0,0,0,.35);animation:in .18s ease-out}
.in .p{height:100%;min-height:440px;border:1px solid var(--bd);border-radius:12px}
@keyframes in{from{opacity:0;transform:translateY(12px)}}
@media (max-width:480px){.fl .p{top:var(--drc-vt,0);left:0;right:0;bottom:auto;width:100%;height:var(--drc-vh,100dvh);border-radius:0}}
.h{display:flex;flex-wrap:wrap;align-items:center;gap:6px;padding:8px 10px 8px 14px;background:var(--ac);color:var(--af)}
.h h2{flex:1 1 50%;margin:0;font-size:16px;font-weight:600;line-height:1.3}
.h button{min-height:32px;min-width:32px;padding:2px 10px;border:1px solid currentColor;border-radius:6px;background:transparent;font-size:14px}
.h .x{border:0;font-size:22px;line-height:1;padding:0 6px}
.h .q{background:var(--af);color:var(--ac);font-weight:700;border-color:var(--af)}
.bar{flex:1 0 100%;display:flex;justify-content:space-between;gap:6px}
.lg{display:flex}
.lg button{border-radius:0;margin-left:-1px}
.lg button:first-child{border-radius:6px 0 0 6px}
.lg button:last-child{border-radius:0 6px 6px 0}
.lg [aria-pressed=true]{background:var(--af);color:var(--ac);font-weight:700}
.hu{margin:0;padding:6px 14px;border-bottom:1px solid var(--bd);font-size:14px}
a{color:var(--ln);text-decoration:underline}
.m{position:relative;flex:1;overflow-y:auto;overscroll-behavior:contain;display:flex;flex-direction:column;gap:10px;padding:12px}
.b{max-width:90%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere}
.b p{margin:0 0 8px}
.b>:last-child,.b p:last-child{margin-bottom:0}
.b ul{margin:0 0 8px;padding-left:20px}
.a{align-self:flex-start;background:var(--bub)}
.u{align-self:flex-end;background:var(--ac);color:var(--af);white-space:pre-wrap}
.cr{max-width:100%;border:3px solid var(--cr);background:var(--crb)}
.cr .ch{font-weight:700;font-size:16px;color:var(--cr)}
.er{border:2px solid var(--cr)}
.er button,.c button,.f button{border:1px solid var(--bd2);border-radius:16px;background:var(--bg);padding:4px 12px;font-size:14px;text-align:start}
.er button{margin-top:6px;font-weight:600}
.er button:disabled{opacity:.6;cursor:default}
.tt{font-size:16px}
.c{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 0}
.c>span{flex:1 0 100%;font-size:14px;color:var(--mut)}
details{margin-top:8px;font-size:14px}
summary{cursor:pointer;color:var(--mut);font-weight:600}
details ul{margin:4px 0 0;padding-left:20px}
.d{margin-top:8px;font-size:12px;color:var(--mut)}
.f{display:flex;align-items:center;gap:6px;margin-top:8px;font-size:13px;color:var(--mut)}
.f button{border-radius:8px;padding:2px 8px}
.f [aria-pressed=true]{border-color:var(--ln);border-width:2px}
.t i{display:inline-block;width:7px;height:7px;margin:0 2px;border-radius:50%;background:var(--mut);animation:k .9s infinite alternate}
.t i:nth-child(3){animation-delay:.3s}.t i:nth-child(4){animation-delay:.6s}
@keyframes k{to{opacity:.2}}
.i{display:flex;gap:8px;padding:8px 10px;border-top:1px solid var(--bd)}
textarea{flex:1;min-height:44px;max-height:120px;resize:none;padding:10px;border:1px solid var(--bd2);border-radius:8px;background:var(--bg);font-size:16px;line-height:1.4}
.s{border:0;border-radius:8px;padding:0 16px;background:var(--ac);color:var(--af);font-weight:600}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}`;
  let sheet = null;
  try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch (e) { sheet = null; }

  // ---- helpers ---------------------------------------------------------------------------------------------------
  /** createElement with attributes; children are nodes or strings (strings become text nodes: never parsed). */
  const h = (tag, attrs, kids) => {
    const e = D.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'c') e.className = v;
      else if (k === 't') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of [].concat(kids == null ? [] : kids)) if (c != null && c !== false) e.append(c);
    return e;
  };
  const safeUrl = (u) => {
    try {
      const x = new URL(String(u).trim());
      return /^(https?|tel|mailto):$/.test(x.protocol) ? x.href : null;
    } catch (e) { return null; }
  };
  const link = (u, kids) => h('a', { href: u, target: /^https?:/.test(u) ? '_blank' : null, rel: 'noopener noreferrer' }, kids);
  const CJK = /[\u2e80-\u9fff\uff00-\uffef]/;
  /** Inline Markdown: **bold** and [text](url). Text is only ever appended as text nodes. `tel`: a bold phone
   *  number (crisis hotlines) becomes a tel: link, so it can be tapped to call. */
  const inline = (s, el, tel) => {
    const rx = /\*\*(.+?)\*\*|\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/g;
    let i = 0, m;
    while ((m = rx.exec(s))) {
      el.append(s.slice(i, m.index));
      if (m[1] != null) {
        const b = h('strong');
        inline(m[1], b);
        el.append(tel && /^(\d{3}|\d[\d-]{4,})$/.test(m[1]) ? link('tel:' + m[1].replace(/-/g, ''), b) : b);
      } else {
        const u = safeUrl(m[3]);
        if (u) { const a = link(u); inline(m[2], a); el.append(a); } else inline(m[2], el); // unsafe link: text only
      }
      i = rx.lastIndex;
    }
    el.append(s.slice(i));
  };
  /** Block Markdown: paragraphs separated by blank lines, "- " bullet lines. */
  const md = (s, el, tel) => {
    for (const blk of String(s || '').replace(/\r/g, '').split(/\n[ \t]*\n/)) {
      let p = null, ul = null, prev = '';
      for (const raw of blk.split('\n')) {
        const ln = raw.trim();
        if (!ln) continue;
        const li = /^[-*•] +(.*)$/.exec(ln);
        if (li) {
          p = null;
          if (!ul) el.append(ul = h('ul'));
          const x = h('li'); inline(li[1], x, tel); ul.append(x);
        } else {
          ul = null;
          if (p) p.append(CJK.test(prev.slice(-1)) && CJK.test(ln[0]) ? '' : ' ');
          else el.append(p = h('p'));
          inline(ln, p, tel);
        }
        prev = ln;
      }
    }
  };
  const store = {
    get(k) { try { return JSON.parse(sessionStorage.getItem(k)); } catch (e) { return null; } },
    set(k, v) { try { sessionStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* storage off: keep in memory */ } },
    del(k) { try { sessionStorage.removeItem(k); } catch (e) { /* ignore */ } },
  };
  const svg = () => {
    const ns = 'http://www.w3.org/2000/svg', s = D.createElementNS(ns, 'svg'), p = D.createElementNS(ns, 'path');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('aria-hidden', 'true');
    p.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm7 3v6h2V6zm0 8v2h2v-2z');
    s.append(p); return s;
  };

  const instances = [], pending = [];
  const MAX = 60; // messages kept per conversation

  class DebtRightsChat extends HTMLElement {
    static get observedAttributes() { return ['lang', 'title', 'accent', 'human-url', 'human-label', 'open']; }

    connectedCallback() {
      if (!this.$) this._init();
      if (!instances.includes(this)) instances.push(this);
      if (this.fl) this._vv(true);
      while (pending.length) command(...pending.shift());
    }

    disconnectedCallback() {
      instances.splice(instances.indexOf(this) >>> 0, 1);
      if (this.fl) this._vv(false);
    }

    attributeChangedCallback(n, o, v) {
      if (!this.$ || o === v) return;
      if (n === 'lang') this.setLang(v);
      else if (n === 'open') v == null ? this.close() : this.open();
      else { this._accent(); this._text(); }
    }

    _opt(n, d) { const v = this.getAttribute(n); return v == null || v === '' ? d : v; }

    _init() {
      this.fl = this._opt('mode') !== 'inline';
      this.api = this._opt('api', ORIGIN).replace(/\/+$/, '');
      this.pack = this._opt('pack', 'cn');
      this.key = 'drc:' + (this.id || (this.fl ? 'floating' : 'inline'));
      this.gen = 0;
      const saved = store.get(this.key) || {};
      this.msgs = Array.isArray(saved.m) ? saved.m : [];
      const l = saved.l || this._opt('lang', 'auto');
      this.sendLang = l === 'auto' ? 'auto' : normLang(l); // 'auto': the API detects the language of each message
      this.lang = normLang(l);
      this.isOpen = !this.fl || ('o' in saved ? saved.o : this.hasAttribute('open') && this._opt('open') !== 'false');

      const root = this.attachShadow({ mode: 'open' });
      if (sheet && 'adoptedStyleSheets' in root) root.adoptedStyleSheets = [sheet];
      else root.append(h('style', { t: CSS })); // old browsers; a strict CSP would need 'unsafe-inline' here
      const $ = this.$ = {};
      $.lb = LANGS.map(([code, label]) => h('button', { type: 'button', lang: code, onclick: () => this.setLang(code) }, label));
      $.title = h('h2');
      $.exit = h('button', { type: 'button', c: 'q', onclick: () => exitAll() });
      $.close = this.fl && h('button', { type: 'button', c: 'x', onclick: () => this.close() }, '×');
      $.clear = h('button', { type: 'button', onclick: () => { this.clear(); $.ta.focus(); } });
      $.lg = h('div', { c: 'lg', role: 'group' }, $.lb);
      $.human = h('p', { c: 'hu' });
      $.log = h('div', { c: 'm', role: 'log', 'aria-live': 'polite', tabindex: '0' });
      $.ta = h('textarea', { rows: '1', maxlength: '1000', autocomplete: 'off', enterkeyhint: 'send' });
      $.send = h('button', { type: 'button', c: 's', onclick: () => this._submit() });
      $.ta.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); this._submit(); }
      });
      $.ta.addEventListener('input', () => {
        $.ta.style.height = 'auto';
        $.ta.style.height = Math.min($.ta.scrollHeight + 2, 120) + 'px';
      });
      $.panel = h('div', { c: 'p', hidden: !this.isOpen, role: this.fl ? 'dialog' : 'region' }, [
        h('div', { c: 'h' }, [$.title, $.exit, $.close, h('div', { c: 'bar' }, [$.lg, $.clear])]),
        $.human, $.log, h('div', { c: 'i' }, [$.ta, $.send]),
      ]);
      $.launch = this.fl && h('button', { type: 'button', c: 'l', hidden: this.isOpen, 'aria-haspopup': 'dialog', onclick: () => this.open() }, [svg(), $.lt = h('span')]);
      // title="" stops a host `title` attribute from showing as a tooltip over the whole widget
      $.root = h('div', { c: 'w ' + (this.fl ? 'fl' : 'in'), title: '' }, [$.launch, $.panel]);
      root.append($.root);
      root.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' && this.fl && this.isOpen && !e.isComposing) { e.preventDefault(); this.close(); }
      });
      this._accent();
      this._text();
      this._fill();
    }

    /** Texts that depend on the language: labels, greeting. */
    _text() {
      const $ = this.$, t = T[this.lang];
      const title = this._opt('title', t.title);
      $.root.lang = this.lang;
      $.title.textContent = title;
      $.panel.setAttribute('aria-label', title);
      $.exit.textContent = t.exit; $.exit.setAttribute('aria-label', t.exitL);
      if ($.close) $.close.setAttribute('aria-label', t.close);
      $.clear.textContent = t.clear;
      $.lg.setAttribute('aria-label', t.lang);
      $.lb.forEach((b) => b.setAttribute('aria-pressed', String(b.lang === this.lang)));
      $.log.setAttribute('aria-label', t.log);
      $.ta.placeholder = t.input; $.ta.setAttribute('aria-label', t.input);
      $.send.textContent = t.send;
      if ($.launch) { $.lt.textContent = t.launch; $.launch.setAttribute('aria-label', t.launch + ' · ' + title); }
      const hu = safeUrl(this._opt('human-url', ''));
      $.human.hidden = !hu;
      $.human.replaceChildren(hu ? link(hu, this._opt('human-label', t.human)) : '');
      const g = h('div', { c: 'b a g' }, [h('p', { t: t.greet }), h('p', { c: 'd', t: t.privacy }), this._chips(t.starters.map((x) => ({ title: x })), null)]);
      if ($.greet) $.greet.replaceWith(g); else $.log.prepend(g);
      $.greet = g;
    }

    /** Accent colour, and black or white text on it, whichever contrasts more (always >= 4.58:1). */
    _accent() {
      const a = this._opt('accent', '');
      const probe = h('i');
      probe.style.color = a;
      if (!a || !probe.style.color) {
        this.style.removeProperty('--drc-accent'); this.style.removeProperty('--drc-accent-fg'); return;
      }
      this.$.root.append(probe);
      const c = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3)
        .map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
      probe.remove();
      const lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      this.style.setProperty('--drc-accent', a);
      this.style.setProperty('--drc-accent-fg', lum > 0.179 ? '#000' : '#fff');
    }

    /** Keep the floating panel above the on-screen keyboard on phones. */
    _vv(on) {
      const vv = W.visualViewport;
      if (!vv) return;
      this._vvf = this._vvf || (() => {
        this.style.setProperty('--drc-vh', vv.height + 'px');
        this.style.setProperty('--drc-vt', vv.offsetTop + 'px');
      });
      for (const ev of ['resize', 'scroll']) vv[on ? 'addEventListener' : 'removeEventListener'](ev, this._vvf);
      if (on) this._vvf();
    }

    _save() {
      if (this.msgs.length > MAX) this.msgs = this.msgs.slice(-MAX);
      store.set(this.key, { m: this.msgs, l: this.sendLang === 'auto' ? null : this.sendLang, o: this.fl && this.isOpen });
    }

    _emit(name, detail) {
      this.dispatchEvent(new CustomEvent(EV + name, { detail, bubbles: true, composed: true }));
    }

    /** Rebuild the message list from this.msgs (after a restore or a clear). */
    _fill() {
      const $ = this.$;
      $.log.replaceChildren($.greet);
      for (const m of this.msgs) $.log.append(this._node(m));
      $.log.scrollTop = $.log.scrollHeight;
    }

    _node(m) { return m.r === 'u' ? h('div', { c: 'b u' }, [h('span', { c: 'sr', t: T[this.lang].you }), m.t]) : this._bot(m); }

    _add(m) {
      this.msgs.push(m);
      this._save();
      const n = this._node(m), log = this.$.log;
      log.append(n);
      // a reply is scrolled to its start so it is read from the top; the user's own message to the bottom
      log.scrollTop = m.r === 'u' ? log.scrollHeight : n.offsetTop - 8;
    }

    _chips(items, lang, label) {
      if (!items || !items.length) return null;
      return h('div', { c: 'c', role: 'group', 'aria-label': label || null }, [
        label && h('span', { 'aria-hidden': 'true', t: label }),
        ...items.filter((s) => s && s.title).map((s) => h('button', {
          type: 'button', lang, onclick: () => this.ask(s.title, s.intent && { intent: s.intent, lang }),
        }, String(s.title))),
      ]);
    }

    _bot(m) {
      const d = m.d, t = T[this.lang], crisis = d.type === 'crisis';
      const b = h('div', { c: 'b a' + (crisis ? ' cr' : ''), lang: T[d.lang] ? d.lang : null }, h('span', { c: 'sr', t: t.bot }));
      if (crisis) b.append(h('p', { c: 'ch', t: '⚠ ' + T[d.lang in T ? d.lang : this.lang].crisis }));
      else if (d.title && d.type === 'answer') b.append(h('p', { c: 'tt' }, h('strong', { t: d.title })));
      md(d.answer, b, crisis);
      const hu = crisis && safeUrl(this._opt('human-url', ''));
      if (hu) b.append(h('p', null, link(hu, this._opt('human-label', t.human))));
      const cites = (d.citations || []).filter((c) => c && c.title);
      if (cites.length) {
        b.append(h('details', null, [
          h('summary', { t: T[d.lang in T ? d.lang : this.lang].src + ' (' + cites.length + ')' }),
          h('ul', null, cites.map((c) => {
            const txt = [c.title, c.article].filter(Boolean).join(' '), u = c.url && safeUrl(c.url);
            return h('li', null, u ? link(u, txt) : txt);
          })),
        ]));
      }
      const tl = T[d.lang in T ? d.lang : this.lang];
      let sug = d.suggestions || [];
      if (d.type === 'fallback' && !sug.length) sug = tl.starters.map((x) => ({ title: x }));
      b.append(this._chips(sug, d.lang, d.type === 'clarify' ? tl.clar : d.type === 'fallback' ? tl.fb : tl.rel) || '');
      if (d.reply_id && !crisis) b.append(this._feedback(m, tl));
      if (d.disclaimer) b.append(h('p', { c: 'd', t: d.disclaimer }));
      return b;
    }

    _feedback(m, t) {
      const note = h('span', { role: 'status' });
      const btn = (v, icon, label) => h('button', {
        type: 'button', 'aria-label': label, 'aria-pressed': String(m.fb === v), onclick: (e) => {
          if (m.fb === v) return;
          m.fb = v; this._save();
          for (const x of e.currentTarget.parentNode.querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === e.currentTarget));
          note.textContent = t.thanks;
          fetch(this.api + '/v1/feedback', {
            method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit', referrerPolicy: 'no-referrer',
            body: JSON.stringify({ reply_id: m.d.reply_id, helpful: v }),
          }).catch(() => {}); // feedback is best effort (404 until the endpoint exists)
        },
      }, icon);
      return h('div', { c: 'f', role: 'group', 'aria-label': t.fbq }, [h('span', { 'aria-hidden': 'true', t: t.fbq }), btn(true, '👍', t.yes), btn(false, '👎', t.no), note]);
    }

    _submit() {
      const v = this.$.ta.value.trim();
      if (!v || this.busy) return;
      this.$.ta.value = '';
      this.$.ta.style.height = '';
      this.ask(v);
    }

    async _req(q) {
      const $ = this.$, gen = this.gen, t = T[this.lang];
      for (const e of $.log.querySelectorAll('.er')) e.remove();
      this.busy = true;
      const typing = h('div', { c: 'b a t' }, [h('span', { c: 'sr', t: t.typing }), h('i'), h('i'), h('i')]);
      $.log.append(typing);
      $.log.scrollTop = $.log.scrollHeight;
      const ctl = new AbortController(), timer = setTimeout(() => ctl.abort(), 10000);
      const init = { signal: ctl.signal, credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store' };
      const lang = this.sendLang;
      try {
        let res = q.intent && await fetch(this.api + '/v1/intents/' + encodeURIComponent(q.intent) + '?lang=' +
          encodeURIComponent(lang === 'auto' ? q.lang || this.lang : lang) + '&pack=' + encodeURIComponent(this.pack), init);
        if (!res || res.status === 404) { // no intent, or an intent this server does not know: ask in words
          res = await fetch(this.api + '/v1/chat', {
            ...init, method: 'POST', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ message: q.message, lang, pack: this.pack }),
          });
        }
        if (!res.ok) { // Retry-After, or the wait in the message when CORS hides that header
          throw { status: res.status, after: res.headers.get('Retry-After') || (/(\d+) ?s\b/.exec(await res.text()) || [])[1] };
        }
        const d = await res.json();
        if (!d || typeof d.answer !== 'string') throw { status: 502 };
        if (gen !== this.gen) return; // cleared meanwhile
        typing.remove();
        if (lang === 'auto' && T[d.lang] && d.lang !== this.lang) { this.lang = d.lang; this._text(); }
        this._add({ r: 'b', d });
        this._emit('reply', { question: q.message, reply: d });
      } catch (e) {
        if (gen !== this.gen) return;
        typing.remove();
        this._error(e, q);
      } finally {
        clearTimeout(timer);
        if (gen === this.gen) this.busy = false;
        typing.remove();
      }
    }

    _error(e, q) {
      const t = T[this.lang], s = e && e.status;
      let wait = 0, msg;
      if (e && e.name === 'AbortError') msg = t.timeout;
      else if (s === 429) {
        const a = e.after || '';
        wait = /^\d+$/.test(a) ? +a : Math.ceil((Date.parse(a) - Date.now()) / 1000) || 0;
        wait = Math.min(Math.max(wait, 1), 3600) || 30;
        msg = t.rate.replace('{n}', wait);
      } else if (s >= 500) msg = t.down;
      else if (s) msg = t.http.replace('{n}', s);
      else msg = t.net;
      const retry = h('button', { type: 'button', disabled: wait > 0, onclick: () => { box.remove(); this._req(q); } }, t.retry);
      const box = h('div', { c: 'b a er', role: 'alert' }, [h('p', { t: msg }), retry]);
      if (wait) setTimeout(() => { retry.disabled = false; }, wait * 1000);
      this.$.log.append(box);
      this.$.log.scrollTop = this.$.log.scrollHeight;
      this._emit('error', { status: s || 0, message: msg, question: q.message });
    }

    // ---- public API ----------------------------------------------------------------------------------------------
    open() {
      this.$.root.hidden = false;
      if (!this.fl || this.isOpen) return;
      this.isOpen = true;
      this.$.panel.hidden = false; this.$.launch.hidden = true;
      this._save();
      this.$.log.scrollTop = this.$.log.scrollHeight;
      this.$.ta.focus({ preventScroll: true });
      this._emit('open');
    }

    close() {
      if (!this.fl || !this.isOpen) return;
      this.isOpen = false;
      this.$.panel.hidden = true; this.$.launch.hidden = false;
      this._save();
      if (this.shadowRoot.activeElement) this.$.launch.focus(); // focus was in the panel: back to the launcher
      this._emit('close');
    }

    toggle() { this.isOpen ? this.close() : this.open(); }

    /** Ask a question as if the user typed it (opens the panel); false while a reply is awaited.
     *  `o.intent`: answer that intent directly. */
    ask(text, o) {
      text = String(text == null ? '' : text).trim().slice(0, 1000);
      if (!text || this.busy) return false;
      this.open();
      this._add({ r: 'u', t: text });
      this._req({ message: text, ...o });
      return true;
    }

    /** 'zh-Hans' | 'zh-Hant' | 'en', or 'auto' (the API detects each message's language). */
    setLang(l) {
      this.sendLang = l === 'auto' ? 'auto' : normLang(l);
      this.lang = normLang(l);
      this._save();
      this._text();
    }

    clear() {
      this.gen++; this.busy = false;
      this.msgs = [];
      store.del(this.key);
      this._save();
      this._fill();
      this._emit('clear');
    }

    /** Quick exit: erase the conversation, close and hide the widget at once. */
    exit() {
      this.clear();
      if (this.fl) { this.isOpen = false; this.$.panel.hidden = true; this.$.launch.hidden = false; }
      store.del(this.key);
      this.$.root.hidden = true;
      if (this.shadowRoot.activeElement) this.shadowRoot.activeElement.blur();
    }
  }

  const exitAll = () => {
    for (const el of instances.slice()) el.exit();
    const first = instances[0];
    (first || W).dispatchEvent(new CustomEvent(EV + 'exit', { bubbles: true, composed: true }));
    const u = first && safeUrl(first._opt('exit-url', ''));
    if (u && /^https?:/.test(u)) location.replace(u);
  };

  // ---- global command API (works before the script loads through the queue stub) -------------------------------
  const command = (cmd, ...args) => {
    const el = instances.find((i) => i.fl) || instances[0];
    if (!el) return void pending.push([cmd, ...args]);
    if (cmd === 'exit') return exitAll();
    if (['open', 'close', 'toggle', 'ask', 'setLang', 'clear'].includes(cmd)) return el[cmd](...args);
    console.warn('DebtRightsChat: unknown command', cmd);
  };

  // Defined before the queued commands are taken, so that they go to the widget the script tag creates (below),
  // not to an inline element that is upgraded right here.
  customElements.define(TAG, DebtRightsChat);
  const queued = (W.DebtRightsChat && W.DebtRightsChat.q) || [];
  W.DebtRightsChat = command;
  for (const a of queued) pending.push(Array.from(a));

  // ---- the <script> tag: mount a widget unless data-mode="none" --------------------------------------------------
  const mount = () => {
    const ds = script && script.dataset;
    if (ds && ds.mode !== 'none') {
      const el = D.createElement(TAG);
      for (const k of ['api', 'lang', 'mode', 'title', 'accent', 'humanUrl', 'humanLabel', 'pack', 'open', 'exitUrl']) {
        if (ds[k] != null) el.setAttribute(k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()), ds[k]);
      }
      if (ds.mode === 'inline' && script.parentNode) script.after(el); else D.body.append(el);
    }
    if (instances.length) while (pending.length) command(...pending.shift());
  };
  if (D.body) mount(); else D.addEventListener('DOMContentLoaded', mount);
})();
