// A button or link with data-confirm="question" asks before it acts (the page's CSP allows no
// inline onclick handlers, so this one listener serves every page).
document.addEventListener("click", (event) => {
  const el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
});
