// Live conversations: each streaming reply's pane reads its Server-Sent Events (annotate/views/
// live.py). "delta" appends text, "reset" starts the pane over (the reply is being generated
// again), "end" and "error" close the stream; when no pane streams any more the page reloads to
// show the finished replies (the server's sanitised markdown, annotate/markdown.py) and the vote.
// EventSource reconnects by itself with Last-Event-ID.
//
// While a reply streams, the text so far is shown as markdown by a small renderer that builds DOM
// nodes from a fixed set of tags and sets text only through text nodes: no HTML is ever parsed,
// so nothing in a reply can become markup, a link or a script. It is a preview; the finished
// reply the rater votes on is the server's rendering.
(function () {
  "use strict";

  // --- the preview renderer: a subset of CommonMark, to DOM nodes only ----------------------------
  const INLINE = /(`+)([^`][\s\S]*?)\1|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^\s*])([^*]*?[^\s*])\*|(?<!\w)_(?=[^\s_])([^_]*?[^\s_])_(?!\w)|\[([^\]\n]+)\]\([^)\s]*\)|~~(?=\S)([\s\S]*?\S)~~/g;

  function add(parent, tag) {
    const node = document.createElement(tag);
    parent.appendChild(node);
    return node;
  }

  function inline(parent, text) {
    let last = 0;
    INLINE.lastIndex = 0;
    const matches = [...text.matchAll(INLINE)];
    for (const m of matches) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) add(parent, "code").textContent = m[2];
      else if (m[3] !== undefined || m[4] !== undefined) inline(add(parent, "strong"), m[3] ?? m[4]);
      else if (m[5] !== undefined || m[6] !== undefined) inline(add(parent, "em"), m[5] ?? m[6]);
      else if (m[7] !== undefined) inline(parent, m[7]);  // a link's words; the finished reply links
      else if (m[8] !== undefined) inline(add(parent, "del"), m[8]);
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  const FENCE = /^ {0,3}(`{3,}|~{3,})/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
  const QUOTE = /^ {0,3}>\s?/;
  const BULLET = /^ {0,3}[-*+]\s+/;
  const NUMBER = /^ {0,3}(\d{1,9})[.)]\s+/;

  function blocks(parent, lines) {
    let i = 0;
    const starts = (line) => FENCE.test(line) || HEADING.test(line) || RULE.test(line)
      || QUOTE.test(line) || BULLET.test(line) || NUMBER.test(line);
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) { i += 1; continue; }
      if ((m = line.match(FENCE))) {
        const code = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(m[1])) { code.push(lines[i]); i += 1; }
        i += 1;
        const pre = add(parent, "pre");
        pre.className = "highlight";
        add(pre, "code").textContent = code.join("\n");
        continue;
      }
      if ((m = line.match(HEADING))) { inline(add(parent, "h" + m[1].length), m[2]); i += 1; continue; }
      if (RULE.test(line)) { add(parent, "hr"); i += 1; continue; }
      if (QUOTE.test(line)) {
        const inner = [];
        while (i < lines.length && QUOTE.test(lines[i])) { inner.push(lines[i].replace(QUOTE, "")); i += 1; }
        blocks(add(parent, "blockquote"), inner);
        continue;
      }
      const numbered = line.match(NUMBER);
      if (numbered || BULLET.test(line)) {
        const marker = numbered ? NUMBER : BULLET;
        const list = add(parent, numbered ? "ol" : "ul");
        if (numbered && numbered[1] !== "1") list.start = Number(numbered[1]);
        while (i < lines.length && marker.test(lines[i])) {
          const item = [lines[i].replace(marker, "")];
          i += 1;
          while (i < lines.length && lines[i].trim() && /^\s{2,}/.test(lines[i]) && !marker.test(lines[i])) {
            item.push(lines[i].trim());
            i += 1;
          }
          // An item whose words have not come yet is not drawn (no empty bullet while streaming).
          if (item.join("").trim()) inline(add(list, "li"), item.join(" "));
          while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && marker.test(lines[i + 1])) i += 1;
        }
        continue;
      }
      const para = [line.trim()];
      i += 1;
      while (i < lines.length && lines[i].trim() && !starts(lines[i])) { para.push(lines[i].trim()); i += 1; }
      inline(add(parent, "p"), para.join(" "));
    }
  }

  function render(text) {
    const out = document.createDocumentFragment();
    blocks(out, text.replace(/\r\n?/g, "\n").split("\n"));
    return out;
  }
  window.LiveMarkdown = { render };

  // --- the page ----------------------------------------------------------------------------------
  const root = document.getElementById("live");
  if (!root) return;
  const strings = JSON.parse(document.getElementById("live-strings").textContent);
  const csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const RENDER_EVERY = 120;  // ms: the preview is drawn again at most this often
  let open = 0;

  function finished() {
    open -= 1;
    if (open <= 0) window.setTimeout(() => window.location.reload(), 150);
  }

  document.querySelectorAll("[data-events-url]").forEach((pane) => {
    const body = pane.querySelector(".live-stream");
    const state = pane.querySelector(".live-state");
    state.textContent = pane.dataset.status === "pending" ? strings.waiting : strings.writing;
    const source = new EventSource(pane.dataset.eventsUrl);
    let text = "";
    let timer = null;
    let closed = false;
    open += 1;
    const draw = () => {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
      // The pane follows the text as it grows, unless the rater scrolled up in it to read.
      const following = body.scrollHeight - body.scrollTop - body.clientHeight < 24;
      body.replaceChildren(render(text));
      if (following) body.scrollTop = body.scrollHeight;
    };
    const drawSoon = () => { if (timer === null) timer = window.setTimeout(draw, RENDER_EVERY); };
    const close = () => {
      if (closed) return;
      closed = true;
      source.close();
      // Nothing is left to stop (the page reloads once the other pane has ended too).
      const stop = pane.querySelector("[data-stop]");
      if (stop) stop.remove();
      draw();
      finished();
    };
    source.addEventListener("open", () => {
      if (state.textContent === strings.lost) state.textContent = strings.writing;
    });
    source.addEventListener("delta", (e) => {
      text += JSON.parse(e.data).text;
      state.textContent = strings.writing;
      pane.dataset.status = "running";
      drawSoon();
    });
    source.addEventListener("reset", () => { text = ""; draw(); });
    source.addEventListener("end", (e) => {
      const data = JSON.parse(e.data);
      pane.dataset.status = "done";
      state.textContent = data.stop_reason === "stopped_by_rater" ? strings.stopped : "";
      close();
    });
    source.addEventListener("error", (e) => {
      if (e.data) {  // the relay's "error" event (a provider error, or given up), not a lost connection
        pane.dataset.status = "failed";
        state.textContent = strings.failed;
        close();
      } else if (source.readyState === EventSource.CLOSED) {
        close();  // the server said there is nothing more (a 204): the page shows where it is
      } else if (!closed) {
        state.textContent = strings.lost;
      }
    });
  });

  document.querySelectorAll("[data-stop]").forEach((button) => {
    button.addEventListener("click", () => {
      const form = new FormData();
      form.append("reply", button.dataset.stop);
      button.disabled = true;
      fetch(root.dataset.stopUrl, {
        method: "POST",
        body: form,
        headers: { "X-CSRFToken": csrf, "X-Live-Fetch": "1" },
        credentials: "same-origin",
      });
    });
  });

  // The message: Ctrl+Enter (or ⌘+Enter) sends it; Enter alone is a new line.
  const message = document.getElementById("live-message");
  if (message) {
    message.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        message.form.requestSubmit(document.getElementById("live-send-submit"));
      }
    });
  }

  // The vote's keys, as on the pairwise page: each verdict's keys pick it; Enter votes.
  const vote = document.getElementById("live-vote");
  if (vote) {
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("textarea, input[type=text]") || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "Enter") { vote.requestSubmit(); e.preventDefault(); return; }
      vote.querySelectorAll("input[name=verdict]").forEach((input) => {
        if (input.dataset.keys.split(" ").includes(e.key)) { input.checked = true; e.preventDefault(); }
      });
    });
  }

  // As in any chat, the newest is in view: the open turn, the vote or the message box are at the
  // bottom of the page (each reload after a vote or an ended stream would start at the top).
  // (The browser's own restoring of the old position after a reload would undo it.)
  if (document.querySelector(".live-turn")) {
    history.scrollRestoration = "manual";
    // (scrollIntoView: on a wide screen the page's main element is what scrolls, not the window.)
    const bottom = () => root.lastElementChild.scrollIntoView({ block: "end" });
    bottom();
    window.addEventListener("load", bottom, { once: true });
  }

  document.querySelectorAll("[data-toggle=guidelines]").forEach((b) => b.addEventListener("click", () => {
    document.getElementById("guidelines").hidden = false;
  }));
  document.querySelectorAll("#guidelines [data-close]").forEach((b) => b.addEventListener("click", () => {
    document.getElementById("guidelines").hidden = true;
  }));
})();
