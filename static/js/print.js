// The auth card's Print button (kept out of the page: the CSP allows no inline script).
document.getElementById("print-button")?.addEventListener("click", () => window.print());
