// Step-labels workbench: keyboard-first. j / k (or the arrows) move between steps; 1 or + marks
// the current step correct, 2 or 0 neutral, 3 or - wrong, and moves on; n opens its note; Enter
// submits. When the campaign ends the trace at its first wrong step, the steps after it are greyed
// and need no label (the server stores them unlabelled). The labels live in the form's radios;
// the server checks them (annotate/protocols/steps.py).
(() => {
  "use strict";

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  let current = 1;
  let lastActivity = Date.now();
  let heartbeat = null;

  const workbench = () => document.getElementById("workbench");
  const form = () => document.getElementById("steps-form");
  const n = () => Number((workbench() || {}).dataset?.n || 0);
  const stopAtWrong = () => (workbench() || {}).dataset?.stopAtWrong === "1";
  const step = (i) => document.getElementById(`step-${i}`);

  let strings = null;
  function t(name, fallback, values = {}) {
    if (!strings) {
      const el = document.getElementById("steps-strings");
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

  function labelOf(i) {
    const checked = $(`input[name="label_${i}"]:checked`);
    return checked ? checked.value : "";
  }

  // The step where the trace ends (its first wrong step), or 0.
  function end() {
    if (!stopAtWrong()) return 0;
    for (let i = 1; i <= n(); i++) if (labelOf(i) === "-1") return i;
    return 0;
  }

  function render() {
    const f = form();
    if (!f) return;
    const stop = end();
    let left = 0;
    for (let i = 1; i <= n(); i++) {
      const li = step(i);
      const label = labelOf(i);
      li.dataset.label = label;
      const ended = stop > 0 && i > stop;
      li.classList.toggle("ended", ended);
      li.classList.toggle("current", i === current);
      if (i === current) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
      if (!ended && label === "") left += 1;
    }
    const button = document.getElementById("steps-submit");
    button.disabled = left > 0;
    const hint = document.getElementById("steps-hint");
    if (hint) {
      if (left > 0) hint.textContent = t("left", "{n} steps left to label", { n: left });
      else if (stop) hint.textContent = `${t("ended", "The trace ended at step {n} (its first wrong step)", { n: stop })} · ${t("ready", "Ready: Enter submits")}`;
      else hint.textContent = t("ready", "Ready: Enter submits");
    }
  }

  function go(i, { scroll = true } = {}) {
    current = Math.max(1, Math.min(n(), i));
    render();
    const li = step(current);
    if (li && scroll) li.scrollIntoView({ block: "nearest" });
  }

  function mark(value) {
    const radio = $(`input[name="label_${current}"][value="${value}"]`);
    if (!radio) return;
    radio.checked = true;
    const stop = end();
    if (value === "-1" && stop === current) {
      render();
      return; // the trace ends here: nothing after it to label
    }
    // On to the next step without a label (or the next one).
    let next = current + 1;
    while (next <= n() && labelOf(next) !== "") next += 1;
    go(next <= n() ? next : current + 1 <= n() ? current + 1 : current);
  }

  function note(i) {
    const wrap = document.getElementById(`note-wrap-${i}`);
    if (!wrap) return;
    wrap.hidden = false;
    $$(`[data-note="${i}"]`).forEach((b) => b.setAttribute("aria-expanded", "true"));
    $("textarea", wrap).focus();
  }

  function submit() {
    const f = form();
    const button = document.getElementById("steps-submit");
    if (!f || button.disabled) {
      const hint = document.getElementById("steps-hint");
      if (hint) hint.textContent = t("labelEvery", "Label every step first");
      return;
    }
    // Labels after the trace's end are not sent as labels: the server stores them unlabelled.
    const stop = end();
    if (stop) for (let i = stop + 1; i <= n(); i++) $(`input[name="label_${i}"][value=""]`).checked = true;
    f.requestSubmit();
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

  const KEYS = { 1: "1", "+": "1", 2: "0", 0: "0", 3: "-1", "-": "-1" };

  function onKey(e) {
    lastActivity = Date.now();
    const typing = e.target.closest && e.target.closest("textarea, input[type=text], select");
    if (e.key === "Escape") {
      if (!closeOverlays() && typing) e.target.blur();
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
    if (e.key in KEYS) {
      e.preventDefault();
      return mark(KEYS[e.key]);
    }
    switch (e.key) {
      case "j":
      case "ArrowDown":
        e.preventDefault();
        go(current + 1);
        break;
      case "k":
      case "ArrowUp":
        e.preventDefault();
        go(current - 1);
        break;
      case "n":
        e.preventDefault();
        note(current);
        break;
      case "Enter":
        e.preventDefault();
        submit();
        break;
      case "s": {
        const panel = document.getElementById("skip-panel");
        if (panel) {
          e.preventDefault();
          panel.hidden = !panel.hidden;
          if (!panel.hidden) $("#skip-reason").focus();
        }
        break;
      }
      default:
    }
  }

  function onClick(e) {
    const target = e.target.closest("button, [data-toggle], .step");
    if (!target) return;
    if (target.matches("[data-toggle]")) {
      const el = document.getElementById(target.dataset.toggle);
      if (el && el.classList.contains("overlay")) openOverlay(el.id);
      else if (el) el.hidden = !el.hidden;
    } else if (target.matches("[data-close]")) closeOverlays();
    else if (target.matches("[data-note]")) note(Number(target.dataset.note));
    else if (target.matches(".step")) go(Number(target.dataset.step), { scroll: false });
  }

  function init() {
    current = 1;
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
  document.addEventListener("change", (e) => {
    const li = e.target.closest && e.target.closest(".step");
    if (li) go(Number(li.dataset.step), { scroll: false });
  });
  document.addEventListener("mousemove", () => (lastActivity = Date.now()), { passive: true });
  // A new trace's fragment (htmx swaps the whole workbench): start afresh.
  document.addEventListener("htmx:afterSettle", () => {
    const wb = workbench();
    if (wb && wb.dataset.ready !== "1") init();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
