// Ranking workbench: keyboard-first. Press the responses' numbers best first ("=" ties the next
// one with the previous rank, Backspace takes the last one back, Enter submits); or drag cards and
// chips with the mouse. The order lives here until submit, as a JSON list of groups of shown
// numbers in the form's "ranking" field; the server maps numbers to responses and checks it.
(() => {
  "use strict";

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  let groups = []; // [[3], [1, 4], ...] best first
  let tieNext = false;
  let pending = null; // "full" | aspect name: waiting for a number
  let lastActivity = Date.now();
  let heartbeat = null;

  const workbench = () => document.getElementById("workbench");
  const form = () => document.getElementById("rank-form");
  const k = () => Number((workbench() || {}).dataset?.k || 0);
  const ranked = () => groups.flat();
  const unranked = () => {
    const done = new Set(ranked());
    return Array.from({ length: k() }, (_, i) => i + 1).filter((n) => !done.has(n));
  };
  // 1st, 2nd, 3rd, 4th … 11th, 21st; the endings come in the page's language ("th st nd rd").
  const ordinal = (n) => {
    const s = t("ordinalEndings", "th st nd rd").split(/\s+/).filter(Boolean);
    const v = n % 100;
    return n + (s.length < 4 ? s[0] || "" : s[(v - 20) % 10] || s[v] || s[0]);
  };

  // What this file says to the rater, in the page's language (views/rank.py JS_STRINGS, handed over
  // with json_script); the English words stay as the fallback, "{name}" filled in from values.
  let strings = null;
  function t(name, fallback, values = {}) {
    if (!strings) {
      const el = document.getElementById("rank-strings");
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

  function hint(text) {
    const el = document.getElementById("rank-hint");
    if (el) el.textContent = text;
  }

  function chip(n) {
    const li = document.createElement("span");
    li.className = "chip";
    li.draggable = true;
    li.dataset.chip = String(n);
    li.textContent = String(n);
    li.title = t("response", "Response {n}", { n });
    return li;
  }

  function render() {
    const f = form();
    if (!f) return;
    const list = document.getElementById("order-ranked");
    list.replaceChildren();
    groups.forEach((group, i) => {
      const li = document.createElement("li");
      li.className = "group";
      li.dataset.group = String(i);
      if (i > 0) {
        // "=" between this rank and the previous one: click to tie (merge) them.
        const tie = document.createElement("button");
        tie.type = "button";
        tie.className = "link tie-toggle";
        tie.dataset.tieWith = String(i);
        tie.title = t("tieWithPrevious", "Tie with the previous rank");
        tie.textContent = "=";
        li.appendChild(tie);
      }
      group.forEach((n, j) => {
        if (j > 0) {
          const eq = document.createElement("button");
          eq.type = "button";
          eq.className = "link tie-toggle";
          eq.dataset.untie = `${i}:${j}`;
          eq.setAttribute("aria-pressed", "true");
          eq.title = t("untie", "Tied: click to untie");
          eq.textContent = "=";
          li.appendChild(eq);
        }
        li.appendChild(chip(n));
      });
      list.appendChild(li);
    });
    const rest = document.getElementById("order-unranked");
    rest.replaceChildren(
      ...unranked().map((n) => {
        const li = document.createElement("li");
        li.appendChild(chip(n));
        return li;
      })
    );
    const ranks = new Map();
    groups.forEach((group, i) => group.forEach((n) => ranks.set(n, i)));
    $$("[data-badge]").forEach((badge) => {
      const n = Number(badge.dataset.badge);
      const card = badge.closest(".rank-card");
      if (ranks.has(n)) {
        const place = ordinal(ranks.get(n) + 1);
        badge.textContent =
          groups[ranks.get(n)].length > 1 ? t("placeTied", "{place} (tie)", { place }) : place;
        card.classList.add("ranked");
      } else {
        badge.textContent = "";
        card.classList.remove("ranked");
      }
    });
    document.getElementById("tie-armed").hidden = !tieNext;
    $("#ranking", f).value = groups.length ? JSON.stringify(groups) : "";
    const left = unranked().length;
    $("#rank-submit", f).disabled = left > 1 || groups.length === 0;
    if (left === 0) hint(t("ready", "Ready: Enter submits"));
    else if (left === 1 && groups.length) hint(t("lastOne", "Enter ranks the last one last and submits"));
    else hint(
        groups.length
          ? t("left", "{n} left to rank", { n: left })
          : t("pressNumbers", "Press the numbers, best first")
      );
  }

  function add(n) {
    if (!Number.isInteger(n) || n < 1 || n > k()) return;
    if (ranked().includes(n)) return hint(t("rankedAlready", "{n} is ranked already (Backspace takes the last one back)", { n }));
    if (tieNext && groups.length) groups[groups.length - 1].push(n);
    else groups.push([n]);
    tieNext = false;
    render();
  }

  function takeBack() {
    if (tieNext) {
      tieNext = false;
    } else if (groups.length) {
      const last = groups[groups.length - 1];
      last.pop();
      if (!last.length) groups.pop();
    }
    render();
  }

  function remove(n) {
    groups = groups.map((g) => g.filter((x) => x !== n)).filter((g) => g.length);
  }

  // Drag n before chip/card `before` (its own rank), or to the end; null `to` = unranked.
  function place(n, to, before) {
    remove(n);
    if (to === "ranked") {
      const idx = before == null ? -1 : groups.findIndex((g) => g.includes(before));
      if (idx < 0) groups.push([n]);
      else groups.splice(idx, 0, [n]);
    }
    render();
  }

  function submit() {
    const f = form();
    if (!f || f.dataset.sent) return;
    const left = unranked();
    if (left.length === 1 && groups.length) {
      groups.push([left[0]]);
      render();
    }
    if (unranked().length) return hint(t("rankEvery", "Rank every response first"));
    if (!f.reportValidity()) return;
    f.dataset.sent = "1";
    if (window.htmx) window.htmx.process(f);
    f.requestSubmit();
  }

  function openReader(n) {
    const card = document.getElementById(`card-${n}`);
    if (!card) return;
    $("#reader-title").textContent = t("response", "Response {n}", { n });
    $("#reader-body").replaceChildren(...Array.from($(".response-body", card).childNodes).map((c) => c.cloneNode(true)));
    openOverlay("reader");
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

  function arm(name) {
    pending = name;
    $$(".aspect").forEach((a) => a.classList.toggle("armed", a.dataset.aspect === name));
    if (name === "full") hint(t("whichResponse", "Which response? Press its number"));
  }
  function disarm() {
    pending = null;
    $$(".aspect.armed").forEach((a) => a.classList.remove("armed"));
  }

  function toggleCompact() {
    const cards = document.getElementById("cards");
    if (!cards) return;
    const on = cards.classList.toggle("compact");
    $$("[data-compact]").forEach((b) => b.setAttribute("aria-pressed", String(on)));
  }

  function toggleRewrite() {
    const panel = document.getElementById("rewrite-panel");
    if (!panel) return;
    panel.hidden = !panel.hidden;
    $$("[data-toggle-rewrite]").forEach((b) => b.setAttribute("aria-expanded", String(!panel.hidden)));
    if (!panel.hidden) $("#rewrite").focus();
  }

  function onKey(e) {
    lastActivity = Date.now();
    const typing = e.target.closest && e.target.closest("textarea, input[type=text], select");
    if (e.key === "Escape") {
      if (closeOverlays() || pending) {
        disarm();
        render();
        e.preventDefault();
      } else if (typing) e.target.blur();
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
    const digit = /^[1-9]$/.test(e.key) ? Number(e.key) : null;
    if (digit !== null) {
      e.preventDefault();
      if (pending === "full") {
        disarm();
        render();
        return openReader(digit);
      }
      if (pending) {
        const radio = $(`.aspect[data-aspect="${CSS.escape(pending)}"] input[value="${digit}"]`);
        if (radio) radio.checked = true;
        disarm();
        return;
      }
      return add(digit);
    }
    const aspect = $$(".aspect").find((a) => a.dataset.key === e.key);
    if (aspect) return arm(aspect.dataset.aspect);
    switch (e.key) {
      case "=":
        if (groups.length && unranked().length) {
          tieNext = !tieNext;
          render();
        }
        break;
      case "Backspace":
        e.preventDefault();
        takeBack();
        break;
      case "Enter":
        e.preventDefault();
        submit();
        break;
      case "f":
        arm("full");
        break;
      case "e":
        toggleCompact();
        break;
      case "x": {
        const box = document.getElementById("all-bad");
        if (box) box.checked = !box.checked;
        break;
      }
      case "r": {
        const r = document.getElementById("rationale");
        if (r) {
          e.preventDefault();
          r.focus();
        }
        break;
      }
      case "w":
        e.preventDefault();
        toggleRewrite();
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
    const t = e.target.closest("button, [data-toggle]");
    if (!t) return;
    if (t.matches("[data-toggle]")) {
      const id = t.dataset.toggle;
      const el = document.getElementById(id);
      if (el && el.classList.contains("overlay")) openOverlay(id);
      else if (el) el.hidden = !el.hidden;
    } else if (t.matches("[data-close]")) closeOverlays();
    else if (t.matches("[data-full]")) openReader(Number(t.dataset.full));
    else if (t.matches("[data-compact]")) toggleCompact();
    else if (t.matches("[data-toggle-rewrite]")) toggleRewrite();
    else if (t.matches("[data-tie-with]")) {
      const i = Number(t.dataset.tieWith);
      groups[i - 1] = groups[i - 1].concat(groups[i]);
      groups.splice(i, 1);
      render();
    } else if (t.matches("[data-untie]")) {
      const [i, j] = t.dataset.untie.split(":").map(Number);
      const tail = groups[i].splice(j);
      groups.splice(i + 1, 0, tail);
      render();
    }
  }

  // --- drag and drop: cards (by their header) and chips -------------------------------------------
  let dragged = null;
  function onDragStart(e) {
    const src = e.target.closest && e.target.closest("[data-chip], [data-drag]");
    if (!src) return;
    dragged = Number(src.dataset.chip || src.dataset.drag);
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", String(dragged));
  }
  function dropTarget(e) {
    return e.target.closest && e.target.closest("[data-chip], .rank-card, [data-drop]");
  }
  function onDragOver(e) {
    if (dragged == null || !dropTarget(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
  }
  function onDrop(e) {
    const target = dropTarget(e);
    if (dragged == null || !target) return;
    e.preventDefault();
    const n = dragged;
    dragged = null;
    if (target.closest("[data-drop='unranked']")) return place(n, null);
    const over = Number(target.dataset.chip || target.dataset.number || 0);
    if (over && over !== n && ranked().includes(over)) return place(n, "ranked", over);
    place(n, "ranked", null);
  }

  function init() {
    groups = [];
    tieNext = false;
    disarm();
    const wb = workbench();
    // An undone vote comes back with its ranking (shown numbers, best first) to correct.
    if (wb && wb.dataset.prefill) {
      try {
        const given = JSON.parse(wb.dataset.prefill);
        if (Array.isArray(given)) groups = given.map((g) => g.map(Number));
      } catch (_) {
        groups = [];
      }
    }
    if (wb) wb.dataset.ready = "1";
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    if (wb && wb.dataset.lease && wb.dataset.heartbeatUrl) {
      // A crowd participant's page beats more often (data-beat-seconds): their active time is
      // summed from the beats (CROWD_IDLE_SECONDS on the server), as on the pairwise page.
      const beat = Number(wb.dataset.beatSeconds || 0);
      const every = (beat || Math.max(15, Math.min(120, Number(wb.dataset.leaseSeconds) / 3))) * 1000;
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
  document.addEventListener("dragstart", onDragStart);
  document.addEventListener("dragover", onDragOver);
  document.addEventListener("drop", onDrop);
  document.addEventListener("mousemove", () => (lastActivity = Date.now()), { passive: true });
  // A new set's fragment (htmx swaps the whole workbench): start its order afresh.
  document.addEventListener("htmx:afterSettle", () => {
    const wb = workbench();
    if (wb && wb.dataset.ready !== "1") init();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
