// The auth card sheet (kept out of the page: the CSP allows no inline script).
// Print button; and nothing on a panel is ever cut off: text wraps, and a panel whose
// content is still taller or wider than the panel (a font wider than the one the server
// counted lines with) gets smaller type, step by step, until it fits.
(() => {
  "use strict";
  const SMALLEST = 0.7; // of the panel's own type size

  const overflows = (panel) =>
    panel.scrollHeight > panel.clientHeight + 0.5 || panel.scrollWidth > panel.clientWidth + 0.5;

  function fit() {
    for (const panel of document.querySelectorAll(".panel")) {
      panel.style.fontSize = "";
      const full = parseFloat(getComputedStyle(panel).fontSize);
      let size = full;
      while (overflows(panel) && size > full * SMALLEST) {
        size *= 0.96;
        panel.style.fontSize = `${size}px`;
      }
      panel.dataset.scale = (size / full).toFixed(2);
    }
    document.body.dataset.fitted = "true";
  }

  document.getElementById("print-button")?.addEventListener("click", () => window.print());
  window.addEventListener("beforeprint", fit);
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fit);
  else fit();
})();
