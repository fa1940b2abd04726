// Rating workbench: keyboard-first. The server does the real work (one POST per vote returns the
// next pair); this file only selects, locks the vote until the minimum read time has passed,
// keeps the lease alive while the rater is active, and (for bench/rating.py, when the page's script
// tag says data-timings: BENCH_HOOKS) times keypress -> next pair painted.
(() => {
  "use strict";

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  let unlockAt = 0;
  let tick = null;
  let heartbeat = null;
  let lastActivity = Date.now();
  let pressedAt = 0;
  const recordTimings = !!document.currentScript && document.currentScript.hasAttribute("data-timings");
  if (recordTimings) window.__rateTimings = window.__rateTimings || [];

  // What this file says to the rater, in the page's language (views/rate.py JS_STRINGS, handed over
  // with json_script); the English words stay as the fallback.
  let strings = null;
  function t(name, fallback) {
    if (!strings) {
      const el = document.getElementById("rate-strings");
      try {
        strings = el ? JSON.parse(el.textContent) : {};
      } catch (_) {
        strings = {};
      }
    }
    return strings[name] || fallback;
  }

  const workbench = () => document.getElementById("workbench");
  const form = () => document.getElementById("vote-form");
  const locked = () => Date.now() < unlockAt;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (_) {
      return "";
    }
  }

  function flash(text, kind = "error") {
    const status = $(".rate-status", workbench() || document);
    if (!status) return;
    let p = $(".flash-js", status);
    if (!p) {
      p = document.createElement("p");
      status.appendChild(p);
    }
    p.className = `flash flash-${kind} flash-js`;
    p.setAttribute("role", "alert");
    p.textContent = text;
  }

  function setVerdict(value) {
    const f = form();
    if (!f) return;
    const button = $(`[data-verdict="${value}"]`, f);
    if (!button) return;
    $("#verdict", f).value = value;
    $$("[data-verdict]", f).forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    refresh();
  }

  function refresh() {
    const f = form();
    if (!f) return;
    const chosen = !!$("#verdict", f).value;
    const submit = $("#vote-submit", f);
    const timer = $("#read-timer", f);
    submit.disabled = locked() || !chosen;
    if (locked()) {
      const seconds = String(Math.ceil((unlockAt - Date.now()) / 1000));
      timer.textContent = t("keepReading", "Keep reading… {s} s").replace("{s}", seconds);
    } else {
      timer.textContent = chosen ? "" : t("chooseResponse", "Choose a response");
      if (tick) {
        clearInterval(tick);
        tick = null;
      }
    }
  }

  function submitVote() {
    const f = form();
    if (!f || f.dataset.sent) return;
    if (locked()) return flash(t("readFirst", "Please read both responses first."));
    if (!$("#verdict", f).value) return flash(t("chooseFirst", "Choose which response is better first."));
    if (!f.reportValidity()) return;
    f.dataset.sent = "1";
    pressedAt = performance.now();
    // A fast rater can press Enter before htmx has wired up the swapped-in form; process it now
    // (idempotent) so the vote never falls back to a full page submit.
    window.htmx.process(f);
    f.requestSubmit($("#vote-submit", f));
  }

  function toggleOverlay(id, force) {
    const el = document.getElementById(id);
    if (!el) return;
    const show = force === undefined ? el.hidden : force;
    el.hidden = !show;
    if (show) {
      const focusable = $("[data-close], input, select", el);
      if (focusable) focusable.focus();
    }
  }

  function openOverlay() {
    return $$(".overlay").find((el) => !el.hidden);
  }

  function toggleDiff() {
    const diff = $("#diff");
    const responses = $("#responses");
    if (!diff || !responses) return;
    const show = diff.hidden;
    diff.hidden = !show;
    responses.hidden = show;
    if (show && !diff.dataset.loaded) {
      diff.dataset.loaded = "1";
      window.htmx.ajax("GET", diff.dataset.url, { target: "#diff", swap: "innerHTML" });
    }
  }

  function reloadWorkbench() {
    const wb = workbench();
    if (wb) window.htmx.ajax("GET", wb.dataset.rateUrl, { target: "#workbench", swap: "outerHTML" });
  }

  function startHeartbeat() {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    const wb = workbench();
    if (!wb || !wb.dataset.assignment || !wb.dataset.heartbeatUrl) return;
    const leaseMs = Number(wb.dataset.leaseSeconds || 600) * 1000;
    // A crowd participant's page beats more often (data-beat-seconds), and only while they are
    // active: their active time is summed from the beats (CROWD_IDLE_SECONDS on the server).
    const beatMs = Number(wb.dataset.beatSeconds || 0) * 1000;
    const every = beatMs || Math.max(5000, Math.min(60000, leaseMs / 3));
    const assignment = wb.dataset.assignment;
    heartbeat = setInterval(async () => {
      // Renew only for a rater who is actually here; an abandoned tab lets the lease lapse.
      if (Date.now() - lastActivity > (beatMs ? 2 * beatMs : leaseMs / 2)) return;
      const body = new FormData();
      body.append("assignment", assignment);
      try {
        const r = await fetch(wb.dataset.heartbeatUrl, {
          method: "POST",
          body,
          headers: { "X-CSRFToken": csrfToken() },
          credentials: "same-origin",
        });
        if (r.status === 410) {
          clearInterval(heartbeat);
          flash(t("leaseGone", "Your time on this pair ran out; press Enter for a new pair."));
          const f = form();
          if (f) f.dataset.expired = "1";
        }
      } catch (_) {
        /* offline for a moment: the next beat retries */
      }
    }, every);
  }

  // Every key of the page, from the page (views/scale_keys.py is the one table): verdicts, aspects,
  // the sides an armed aspect takes, and actions. The vote bar and the after-vote revise read the
  // same verdicts, so a key means the same in both.
  let keyMap = null;
  function keys() {
    if (!keyMap) {
      const el = document.getElementById("scale-keys");
      try {
        keyMap = el ? JSON.parse(el.textContent) : {};
      } catch (_) {
        keyMap = {};
      }
      for (const part of ["verdicts", "aspects", "sides", "actions"]) keyMap[part] = keyMap[part] || {};
    }
    return keyMap;
  }
  const verdictKeys = () => keys().verdicts;

  // Aspects: the aspect's key arms it, the next side key (a verdict key of A, tie or B) sets it.
  let armed = null;
  function armAspect(name) {
    armed = armed === name ? null : name;
    $$("#vote-form [data-aspect]").forEach((fs) => fs.classList.toggle("armed", fs.dataset.aspect === armed));
  }
  function setAspect(side) {
    const input = armed && $(`#vote-form input[name="aspect_${armed}"][value="${side}"]`);
    if (input) input.checked = true;
    armAspect(null);
    return !!input;
  }

  function toggleRewrite(force) {
    const panel = $("#rewrite-panel");
    if (!panel) return;
    const show = force === undefined ? panel.hidden : force;
    panel.hidden = !show;
    const responses = $("#responses");
    if (responses) responses.classList.toggle("with-rewrite", show);
    $$("[data-toggle-rewrite]").forEach((b) => b.setAttribute("aria-expanded", String(show)));
    if (show) $("#rewrite").focus();
  }

  // After-vote judge mode: the reveal's keep / revise buttons, while they are on the page.
  const pendingReveal = () => $("#judge-reveal .judge-actions");

  function revealKey(key) {
    const press = (selector) => {
      const b = $(`#judge-reveal ${selector}`);
      return b ? () => b.click() : null;
    };
    if (key === "Enter" || keys().actions[key] === "keep") return press('[data-judge="keep"]');
    const verdict = verdictKeys()[key];
    return verdict ? press(`[data-revise="${verdict}"]`) : null;
  }

  // The server marks the workbench while keep / revise is open (a class set here would be undone by
  // htmx's attribute settling); answering swaps only #judge-reveal, so the mark is cleared here.
  function markAwaitingReveal() {
    const wb = workbench();
    const waiting = !!pendingReveal();
    if (wb) wb.classList.toggle("awaiting-reveal", waiting);
    // The waiting bar is inert too: no focus, no click, and not read as live controls.
    const f = form();
    if (f) f.inert = waiting;
  }

  // Undo: the button shows while the server still takes an undo; the key asks the server either way,
  // so a late press gets its word (409) instead of silence.
  let undoTimer = null;
  function armUndo() {
    if (undoTimer) clearTimeout(undoTimer);
    const u = $("#undo-form");
    const ms = u ? Number(u.dataset.undoMs || 0) : 0;
    if (ms > 0) undoTimer = setTimeout(() => (u.hidden = true), ms);
  }
  function undo() {
    const u = $("#undo-form");
    if (!u) return;
    window.htmx.process(u);
    u.requestSubmit();
  }

  function init() {
    armed = null;
    armUndo();
    const wb = workbench();
    if (!wb) return;
    unlockAt = Date.now() + Number(wb.dataset.unlockMs || 0);
    if (tick) clearInterval(tick);
    tick = locked() ? setInterval(refresh, 250) : null;
    const f = form();
    if (f && $("#verdict", f).value) setVerdict($("#verdict", f).value);
    refresh();
    startHeartbeat();
  }

  document.addEventListener("keydown", (e) => {
    lastActivity = Date.now();
    const t = e.target;
    const typing = t instanceof HTMLElement && t.matches("textarea, input[type=text], input:not([type]), select");
    const overlay = openOverlay();
    if (e.key === "Escape") {
      if (overlay) overlay.hidden = true;
      if (typing) t.blur();
      return;
    }
    if (typing) {
      // The rewrite box sits beside the answers but belongs to the vote form (form="vote-form").
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && (t.closest("#vote-form") || t.form === form())) {
        e.preventDefault();
        submitVote();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (overlay) {
      const act = keys().actions[e.key];
      if (e.key === "Enter" || act === "help" || (act === "guidelines" && overlay.id === "guidelines")) {
        e.preventDefault();
        overlay.hidden = true;
      }
      return;
    }
    if (pendingReveal()) {
      // The judge's verdict on the pair just rated is waiting for keep / revise: answer it before
      // any key can touch the next pair (a "1" here means "revise to A", not a vote on new text).
      const action = revealKey(e.key);
      if (action) {
        e.preventDefault();
        action();
      }
      return;
    }
    const f = form();
    if (armed) {
      const side = keys().sides[e.key];
      if (side) {
        e.preventDefault();
        setAspect(side);
        return;
      }
      armAspect(null); // any other key lets go of the aspect, then does what it does
    }
    if (e.key === "Enter") {
      if (t instanceof HTMLElement && t.matches("a, summary, button:not([data-verdict]):not(#vote-submit)")) return;
      e.preventDefault();
      if (f && f.dataset.expired) return reloadWorkbench();
      return submitVote();
    }
    const verdict = verdictKeys()[e.key];
    if (verdict && f) {
      e.preventDefault();
      return setVerdict(verdict);
    }
    const aspect = keys().aspects[e.key];
    if (aspect && f) {
      e.preventDefault();
      return armAspect(aspect);
    }
    const openPanel = (focus) => {
      const p = $("#skip-panel");
      if (p) {
        p.hidden = false;
        $(focus).focus();
      }
    };
    const actions = {
      help: () => toggleOverlay("help"),
      guidelines: () => toggleOverlay("guidelines"),
      diff: toggleDiff,
      reasoning: () => {
        // Reasoning traces (campaigns that show them): open both, or close both if all are open.
        const traces = $$("details.reasoning");
        const open = !traces.every((t) => t.open);
        traces.forEach((t) => (t.open = open));
      },
      rationale: () => $("#rationale") && $("#rationale").focus(),
      rewrite: () => toggleRewrite(true),
      undo,
      skip: () => openPanel("#skip-reason"),
      flag: () => openPanel("#flag-reason"),
    };
    const action = actions[keys().actions[e.key]];
    if (action) {
      e.preventDefault();
      action();
    }
  });

  document.addEventListener("click", (e) => {
    lastActivity = Date.now();
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const verdict = t.closest("[data-verdict]");
    if (verdict) {
      e.preventDefault(); // select; Enter or the Submit button sends
      return setVerdict(verdict.dataset.verdict);
    }
    if (t.closest("#vote-submit")) {
      e.preventDefault();
      return submitVote();
    }
    const toggle = t.closest("[data-toggle]");
    if (toggle) {
      const id = toggle.dataset.toggle;
      if (id === "skip-panel") {
        const p = $("#skip-panel");
        if (p) p.hidden = !p.hidden;
      } else toggleOverlay(id);
      return;
    }
    if (t.closest("[data-toggle-diff]")) return toggleDiff();
    if (t.closest("[data-toggle-rewrite]")) return toggleRewrite();
    if (t.closest("[data-close]")) {
      const o = t.closest(".overlay");
      if (o) o.hidden = true;
      return;
    }
    const copy = t.closest("[data-copy]");
    if (copy) {
      // The response as written (markdown, from the page's JSON), not its rendered text.
      const src = document.getElementById(`text-${copy.dataset.copy}`);
      const box = $("#rewrite");
      if (src && box) box.value = JSON.parse(src.textContent);
      if (box) box.focus();
    }
    if (t.classList.contains("overlay")) t.hidden = true; // click on the backdrop
  });

  // The vote is sent only through submitVote (locks, validation, one send per pair).
  document.addEventListener(
    "submit",
    (e) => {
      const f = e.target;
      if (f.id === "vote-form" && !f.dataset.sent) {
        e.preventDefault();
        e.stopImmediatePropagation();
        submitVote();
      }
    },
    true,
  );

  ["mousemove", "scroll", "input"].forEach((name) =>
    document.addEventListener(name, () => (lastActivity = Date.now()), { passive: true, capture: true }),
  );

  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target && e.detail.target.id === "diff") return;
    if (e.detail.target && e.detail.target.id === "judge-reveal") return markAwaitingReveal();
    init();
    window.scrollTo(0, 0);
    const main = $(".rate-main");
    if (main) main.scrollTop = 0;
    if (pressedAt && recordTimings) {
      const started = pressedAt;
      pressedAt = 0;
      // rAF runs just before the frame is painted; a task queued from it runs after that paint.
      requestAnimationFrame(() =>
        setTimeout(() => window.__rateTimings.push(performance.now() - started), 0),
      );
    }
  });

  // A form refused as sent (400) comes back as the workbench with the reason: show it like any other.
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr.status === 400 && e.detail.target && e.detail.target.id === "workbench") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", (e) => {
    const f = form();
    if (f) delete f.dataset.sent;
    const xhr = e.detail.xhr;
    if (xhr && xhr.status === 409) {
      // Refused by the state of things (an undo too late, not the last vote): the server says why.
      const u = $("#undo-form");
      if (u) u.hidden = true;
      return flash(xhr.responseText || t("tooLate", "This can no longer be done."));
    }
    flash(t("serverError", "The server could not take this vote; please try again."));
  });
  document.addEventListener("htmx:sendError", () => {
    const f = form();
    if (f) delete f.dataset.sent;
    flash(t("offline", "No connection; your vote was not sent. Try again."));
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
