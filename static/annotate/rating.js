// Rating workbench: keyboard-first. A cursor sits on one cell of the score grid (a criterion of a
// response): a number key scores it and moves on (down the criteria, then to the next response),
// the arrows move the cursor, Backspace clears the cell, "r" writes why for the response, Enter
// submits once every cell is scored. The cells are plain form fields (s_<n>_<criterion>), so the
// form posts without this file too; the server checks the scores with the API's rules.
(() => {
  "use strict";

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  let n = 1; // the cursor's response (column), 1 … K
  let c = 0; // the cursor's criterion (row), 0 = overall
  let lastActivity = Date.now();
  let heartbeat = null;

  const workbench = () => document.getElementById("workbench");
  const form = () => document.getElementById("rating-form");
  const data = (name) => Number((workbench() || {}).dataset?.[name] || 0);
  const cell = (num, crit) => document.getElementById(`s-${num}-${crit}`);

  let strings = null;
  function t(name, fallback, values = {}) {
    if (!strings) {
      const el = document.getElementById("rating-strings");
      try {
        strings = el ? JSON.parse(el.textContent) : {};
      } catch (_) {
        strings = {};
      }
    }
    return (strings[name] || fallback).replace(/\{(\w+)\}/g, (m, key) =>
      key in values ? String(values[key]) : m
    );
  }

  function render() {
    $$(".score-grid .cursor").forEach((el) => el.classList.remove("cursor"));
    $$(".cursor-col").forEach((el) => el.classList.remove("cursor-col"));
    $$(".rating-card-current").forEach((el) => el.classList.remove("rating-card-current"));
    const here = cell(n, c);
    if (here) {
      here.classList.add("cursor");
      const th = $$(".score-grid thead th")[n];
      if (th) th.classList.add("cursor-col");
      const card = document.getElementById(`card-${n}`);
      if (card) card.classList.add("rating-card-current");
    }
    const cells = $$(".score-grid input.score");
    const left = cells.filter((el) => el.value === "").length;
    const submit = document.getElementById("rating-submit");
    if (submit) submit.disabled = left > 0;
    const hint = document.getElementById("rating-hint");
    if (hint) hint.textContent = left ? t("left", "{n} cells left to score", { n: left }) : t("ready", "Ready: Enter submits");
  }

  function move(dn, dc) {
    const k = data("k");
    const rows = data("criteria");
    if (!k) return;
    n = Math.min(k, Math.max(1, n + dn));
    c = Math.min(rows - 1, Math.max(0, c + dc));
    render();
  }

  function advance() {
    const k = data("k");
    const rows = data("criteria");
    if (c < rows - 1) c += 1;
    else if (n < k) {
      n += 1;
      c = 0;
    }
    // Then on to the first cell still empty, if the next one is scored already.
    const here = cell(n, c);
    if (here && here.value !== "") {
      const empty = $$(".score-grid input.score").find((el) => el.value === "");
      if (empty) {
        n = Number(empty.dataset.n);
        c = Number(empty.dataset.c);
      }
    }
    render();
  }

  function score(value) {
    const low = data("low");
    const high = data("high");
    const hint = document.getElementById("rating-hint");
    if (value < low || value > high) {
      if (hint) hint.textContent = t("offScale", "Scores go from {low} to {high}", { low, high });
      return;
    }
    const here = cell(n, c);
    if (!here) return;
    here.value = String(value);
    advance();
  }

  function submit() {
    const f = form();
    if (!f || $$(".score-grid input.score").some((el) => el.value === "")) return render();
    if (typeof f.requestSubmit === "function") f.requestSubmit();
    else f.submit();
  }

  function openOverlay(id) {
    $$(".overlay").forEach((o) => (o.hidden = o.id !== id));
    const el = document.getElementById(id);
    const close = el && $("[data-close]", el);
    if (close) close.focus();
  }
  function closeOverlays() {
    let any = false;
    $$(".overlay").forEach((o) => {
      if (!o.hidden) any = true;
      o.hidden = true;
    });
    return any;
  }
  const overlayOpen = () => $$(".overlay").some((o) => !o.hidden);

  function onKey(e) {
    lastActivity = Date.now();
    const typing = e.target.closest && e.target.closest("textarea, input[type=text], select");
    if (e.key === "Escape") {
      if (!closeOverlays() && typing) e.target.blur();
      e.preventDefault();
      return;
    }
    if (typing) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.form === form()) {
        e.preventDefault();
        submit();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (overlayOpen()) {
      if (e.key === "Enter" && !$("#guidelines").hidden) {
        e.preventDefault();
        closeOverlays();
      }
      return;
    }
    if (e.key === "?") return openOverlay("help");
    if (e.key === "g") return openOverlay("guidelines");
    if (!form()) return;
    if (/^[0-9]$/.test(e.key)) {
      e.preventDefault();
      return score(Number(e.key));
    }
    switch (e.key) {
      case "ArrowLeft":
      case "h":
        e.preventDefault();
        return move(-1, 0);
      case "ArrowRight":
      case "l":
        e.preventDefault();
        return move(1, 0);
      case "ArrowUp":
      case "k":
        e.preventDefault();
        return move(0, -1);
      case "ArrowDown":
      case "j":
        e.preventDefault();
        return move(0, 1);
      case "Backspace": {
        e.preventDefault();
        const here = cell(n, c);
        if (here) here.value = "";
        return render();
      }
      case "Enter":
        e.preventDefault();
        return submit();
      case "r": {
        const why = document.getElementById(`why-${n}`);
        if (why) {
          e.preventDefault();
          why.focus();
        }
        return;
      }
      case "s": {
        const panel = document.getElementById("skip-panel");
        if (panel) {
          e.preventDefault();
          panel.hidden = !panel.hidden;
          if (!panel.hidden) $("#skip-reason").focus();
        }
        return;
      }
      default:
    }
  }

  function onClick(e) {
    const input = e.target.closest && e.target.closest("input.score");
    if (input) {
      n = Number(input.dataset.n);
      c = Number(input.dataset.c);
      return render();
    }
    const b = e.target.closest && e.target.closest("button, [data-toggle]");
    if (!b) return;
    if (b.matches("[data-toggle]")) {
      const id = b.dataset.toggle;
      const el = document.getElementById(id);
      if (el && el.classList.contains("overlay")) openOverlay(id);
      else if (el) el.hidden = !el.hidden;
    } else if (b.matches("[data-close]")) closeOverlays();
  }

  function init() {
    n = 1;
    c = 0;
    const wb = workbench();
    if (wb) wb.dataset.ready = "1";
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    if (wb && wb.dataset.lease && wb.dataset.heartbeatUrl) {
      const every = Math.max(15, Math.min(120, Number(wb.dataset.leaseSeconds) / 3)) * 1000;
      heartbeat = setInterval(() => {
        if (Date.now() - lastActivity > every * 2) return;
        const body = new URLSearchParams({ lease: wb.dataset.lease });
        const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
        fetch(wb.dataset.heartbeatUrl, { method: "POST", body, headers: { "X-CSRFToken": token } });
      }, every);
    }
    render();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  document.addEventListener("input", (e) => {
    if (e.target.matches && e.target.matches("input.score")) render();
  });
  document.addEventListener("mousemove", () => (lastActivity = Date.now()), { passive: true });
  // A new unit's fragment (htmx swaps the whole workbench): start afresh.
  document.addEventListener("htmx:afterSettle", () => {
    const wb = workbench();
    if (wb && wb.dataset.ready !== "1") init();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
