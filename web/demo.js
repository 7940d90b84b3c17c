// Demo page script (served at /demo.js; the demo page's CSP forbids inline script).
// 1. The queue stub: lets the page call DebtRightsChat(...) before widget.js has loaded.
window.DebtRightsChat = window.DebtRightsChat || function () {
  (window.DebtRightsChat.q = window.DebtRightsChat.q || []).push(arguments);
};

document.addEventListener('DOMContentLoaded', () => {
  // 2. Host-page buttons that ask the floating widget a question.
  for (const b of document.querySelectorAll('button[data-ask]')) {
    b.addEventListener('click', () => window.DebtRightsChat('ask', b.dataset.ask));
  }

  // 3. The embed snippet, with this server's address, and a copy button.
  const code = document.getElementById('snippet');
  code.textContent = code.textContent.replace('https://YOUR-HOST', location.origin);
  const copied = document.getElementById('copied');
  document.getElementById('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      copied.textContent = '已复制 · Copied';
    } catch (e) {
      const r = document.createRange();
      r.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      copied.textContent = '请按 Ctrl+C 复制 · Press Ctrl+C to copy';
    }
  });
});
