// Live conversations: each streaming reply's pane reads its Server-Sent Events (annotate/views/
// live.py). "delta" appends text, "reset" starts the pane over (the reply is being generated
// again), "end" and "error" close the stream; when no pane streams any more the page reloads to
// show the finished replies and the vote. EventSource reconnects by itself with Last-Event-ID.
(function () {
  "use strict";
  const strings = JSON.parse(document.getElementById("live-strings").textContent);
  const root = document.getElementById("live");
  if (!root) return;
  const csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
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
    let closed = false;
    open += 1;
    const close = () => {
      if (closed) return;
      closed = true;
      source.close();
      finished();
    };
    source.addEventListener("delta", (e) => {
      body.textContent += JSON.parse(e.data).text;
      state.textContent = strings.writing;
      pane.dataset.status = "running";
    });
    source.addEventListener("reset", () => { body.textContent = ""; });
    source.addEventListener("end", (e) => {
      const data = JSON.parse(e.data);
      pane.dataset.status = "done";
      state.textContent = data.stop_reason === "stopped_by_rater" ? strings.stopped : "";
      close();
    });
    source.addEventListener("error", (e) => {
      if (e.data) {  // the relay's "error" event (a provider error), not a lost connection
        pane.dataset.status = "failed";
        state.textContent = strings.failed;
        close();
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

  document.querySelectorAll("[data-toggle=guidelines]").forEach((b) => b.addEventListener("click", () => {
    document.getElementById("guidelines").hidden = false;
  }));
  document.querySelectorAll("#guidelines [data-close]").forEach((b) => b.addEventListener("click", () => {
    document.getElementById("guidelines").hidden = true;
  }));
})();
