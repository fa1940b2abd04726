// Undo the last vote on the set pages (ranking, rating, step labels; views/set_undo.py): "u" or
// the button asks the server for the last unit again with the vote filled in. The button shows the
// seconds left and hides when the window closes; the key asks the server either way, so a late
// press gets its word (409, shown as a flash) instead of silence, as on the pairwise page.
(() => {
  "use strict";

  let timer = null;

  function arm() {
    if (timer) clearInterval(timer);
    timer = null;
    const u = document.getElementById("undo-form");
    const ms = u ? Number(u.dataset.undoMs || 0) : 0;
    if (ms <= 0) return;
    const until = Date.now() + ms;
    const left = u.querySelector("[data-undo-left]");
    const show = () => {
      const s = Math.ceil((until - Date.now()) / 1000);
      if (s <= 0) {
        u.hidden = true;
        clearInterval(timer);
        timer = null;
        return;
      }
      if (left) left.textContent = (u.dataset.leftFormat || "({s} s)").replace("{s}", String(s));
    };
    show();
    timer = setInterval(show, 1000);
  }

  function flash(text) {
    const bar = document.querySelector("#workbench .rate-status");
    if (!bar) return;
    let p = bar.querySelector(".flash-undo");
    if (!p) {
      p = document.createElement("p");
      p.className = "flash flash-error flash-undo";
      p.setAttribute("role", "alert");
      bar.insertBefore(p, bar.querySelector(".spacer"));
    }
    p.textContent = text;
  }

  document.addEventListener("keydown", (e) => {
    if (e.key !== "u" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest("textarea, input[type=text], input[type=number], select")) return;
    if (Array.from(document.querySelectorAll(".overlay")).some((o) => !o.hidden)) return;
    const u = document.getElementById("undo-form");
    if (!u) return;
    e.preventDefault();
    if (window.htmx) window.htmx.process(u);
    u.requestSubmit();
  });

  // A correction refused as sent (400) comes back as the workbench with the reason: swap it in.
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr.status === 400 && e.detail.target && e.detail.target.id === "workbench") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    if (!xhr || xhr.status !== 409) return;
    const u = document.getElementById("undo-form");
    if (u) u.hidden = true;
    flash(xhr.responseText || "");
  });
  document.addEventListener("htmx:afterSettle", arm);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", arm);
  else arm();
})();
