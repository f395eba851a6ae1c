// kubelab page script: CSRF header for htmx, copy buttons, hints, the lab page's step flow
// (timers, offered hints, celebration) and its live feed (Server-Sent Events).
// Everything here is progressive: pages work without it (forms post and reload).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token as a header (forms also carry it as a field).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // Copy buttons: the clipboard API where available (secure contexts: localhost counts),
  // else a hidden textarea and execCommand; "Copied" feedback either way.
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function feedback(button, ok) {
    var zh = document.documentElement.lang.indexOf("zh") === 0;
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = ok
      ? (button.getAttribute("data-copied") || (zh ? "已复制" : "Copied"))
      : (button.getAttribute("data-failed") || (zh ? "请按 Ctrl+C" : "Press Ctrl+C"));
    button.classList.toggle("is-copied", ok);
    button.classList.toggle("is-failed", !ok);
    window.clearTimeout(button._kubelabTimer);
    button._kubelabTimer = window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-copied", "is-failed");
    }, 1800);
  }

  function copy(button) {
    var block = button.closest(".code-block");
    var pre = block && block.querySelector("pre");
    if (!pre) {
      return;
    }
    var text = pre.innerText.replace(/\n$/, "");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { feedback(button, true); },
        function () { feedback(button, fallbackCopy(text)); }
      );
    } else {
      feedback(button, fallbackCopy(text));
    }
  }

  function enhance(root) {
    root.querySelectorAll("button[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
    // Check times are sent in UTC; show them in the reader's own time and language.
    root.querySelectorAll(".result-meta time[datetime]").forEach(function (time) {
      var when = new Date(time.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        time.textContent = when.toLocaleString(document.documentElement.lang || undefined);
      }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });

  // Hints are nested <details>: closing one closes the ones inside it, so "1/3" means one shown.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.classList || !details.classList.contains("hint") || details.open) {
      return;
    }
    details.querySelectorAll("details.hint[open]").forEach(function (inner) {
      inner.open = false;
    });
  }, true);

  // After htmx swaps a result in, bring it into view if it is off screen.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.classList.contains("result")) {
      return;
    }
    enhance(target);
    var rect = target.getBoundingClientRect();
    if (rect.bottom > window.innerHeight || rect.top < 0) {
      target.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
  });

  // A network failure (server stopped) is shown in the step's panel instead of doing nothing.
  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    if (target && target.classList.contains("result")) {
      target.textContent = "";
      var panel = document.createElement("div");
      panel.className = "result-panel result-error";
      var p = document.createElement("p");
      p.className = "result-heading";
      p.textContent = document.documentElement.lang.indexOf("zh") === 0
        ? "无法连接到 kubelab 服务器。"
        : "kubelab's server did not answer.";
      panel.appendChild(p);
      target.appendChild(panel);
    }
  });

  // Language toggle: keep the reader's place (the step anchor) across the redirect.
  document.addEventListener("click", function (event) {
    var link = event.target.closest(".lang-toggle a");
    if (link && window.location.hash) {
      link.setAttribute("href", link.getAttribute("href").split("#")[0] + window.location.hash);
    }
  });

  // ---- The lab page: step flow, timers, offered hints and the live feed ----------------

  // The step life cycle, as the server names it (engine::StepState).
  var STATES = ["not-started", "in-progress", "passed", "regressed"];

  function labRoot() {
    return document.getElementById("lab");
  }

  function isZh() {
    var lab = labRoot();
    return lab ? lab.getAttribute("data-zh") === "true" : document.documentElement.lang.indexOf("zh") === 0;
  }

  // The same wording as the server's durations: "35 s", "4 min 12 s", "1 h 3 min".
  function durationText(secs) {
    var lab = labRoot();
    var unit = function (name, fallback) {
      return (lab && lab.getAttribute("data-unit-" + name)) || fallback;
    };
    var sep = isZh() ? "" : " ";
    secs = Math.max(0, Math.floor(secs));
    var h = Math.floor(secs / 3600), m = Math.floor(secs % 3600 / 60), s = secs % 60;
    var part = function (n, u) { return n + sep + u; };
    if (h > 0) {
      return part(h, unit("h", "h")) + " " + part(m, unit("min", "min"));
    }
    if (m > 0) {
      return part(m, unit("min", "min")) + " " + part(s, unit("s", "s"));
    }
    return part(s, unit("s", "s"));
  }

  // kubectl's AGE column.
  function ageText(secs) {
    secs = Math.max(0, Math.floor(secs));
    if (secs < 120) { return secs + "s"; }
    if (secs < 7200) { return Math.floor(secs / 60) + "m"; }
    if (secs < 172800) { return Math.floor(secs / 3600) + "h"; }
    return Math.floor(secs / 86400) + "d";
  }

  function secondsSince(iso) {
    var t = Date.parse(iso || "");
    return isNaN(t) ? null : (Date.now() - t) / 1000;
  }

  function stepSections() {
    return Array.prototype.slice.call(document.querySelectorAll("section.step[data-step]"));
  }

  function isDone(section) {
    return section.classList.contains("step-passed") || section.classList.contains("step-regressed");
  }

  function unfold(section) {
    var fold = section && section.querySelector("details.step-fold");
    if (fold && !fold.open) {
      fold.open = true;
    }
  }

  // A hint is offered once the learner has been on the current step for its delay.
  function offerHint(section) {
    section.setAttribute("data-hint-offered", "true");
    var hints = section.querySelector(".hints");
    var first = hints && hints.querySelector("details.hint");
    if (!first || first.open) {
      return;
    }
    first.open = true;
    hints.classList.add("hint-offered");
    var note = hints.querySelector(".hint-offer");
    if (note) {
      note.hidden = false;
    }
  }

  function tick() {
    document.querySelectorAll(".elapsed[data-since]").forEach(function (el) {
      var secs = secondsSince(el.getAttribute("data-since"));
      if (secs !== null) {
        el.textContent = durationText(secs);
      }
    });
    document.querySelectorAll("time.age[data-created]").forEach(function (el) {
      var secs = secondsSince(el.getAttribute("data-created"));
      if (secs !== null) {
        el.textContent = ageText(secs);
      }
    });
    var current = document.querySelector("section.step.step-current:not(.step-passed):not(.step-regressed):not([data-hint-offered])");
    if (current) {
      var secs = secondsSince(current.getAttribute("data-started"));
      var after = parseInt(current.getAttribute("data-hint-after"), 10);
      if (secs !== null && secs >= (isNaN(after) ? 180 : after)) {
        offerHint(current);
      }
    }
  }

  // Progress, times, the summary and the celebration come from the server (one GET of the
  // page), so they say exactly what a reload would.
  function refreshFromServer(then) {
    var lab = labRoot();
    var page = lab && lab.dataset.lab ? "/labs/" + encodeURIComponent(lab.dataset.lab) : window.location.pathname;
    fetch(page, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["lab-progress", "lab-summary", "celebration"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) {
            old.replaceWith(document.importNode(fresh, true));
          }
        });
        doc.querySelectorAll("section.step[data-step]").forEach(function (fresh) {
          var id = fresh.getAttribute("data-step");
          var local = document.getElementById("step-" + id);
          var time = document.getElementById("time-" + id);
          var freshTime = fresh.querySelector(".step-time");
          if (local) {
            local.setAttribute("data-started", fresh.getAttribute("data-started") || "");
          }
          if (time && freshTime) {
            time.innerHTML = freshTime.innerHTML;
          }
        });
        tick();
        if (then) { then(); }
      })
      .catch(function () { /* the page stays as it is; a reload shows the rest */ });
  }

  function stepPassed(section) {
    section.classList.remove("step-current");
    var sections = stepSections();
    var index = sections.indexOf(section);
    var next = sections.slice(index + 1).filter(function (s) { return !isDone(s); })[0]
      || sections.filter(function (s) { return !isDone(s); })[0];
    if (next) {
      next.classList.add("step-current");
      unfold(next);
      next.scrollIntoView({ behavior: "smooth", block: "start" });
      refreshFromServer(null);
    } else {
      refreshFromServer(function () {
        var done = document.getElementById("celebration");
        if (done) {
          done.hidden = false;
          done.scrollIntoView({ behavior: "smooth", block: "start" });
        }
      });
    }
  }

  function applyStepState(id, state) {
    var section = document.getElementById("step-" + id);
    if (!section || STATES.indexOf(state) < 0) {
      return;
    }
    var wasDone = isDone(section);
    STATES.forEach(function (s) { section.classList.remove("step-" + s); });
    section.classList.add("step-" + state);
    var dot = document.querySelector('.lab-nav a[data-step="' + id + '"] .nav-dot');
    if (dot) {
      dot.className = "nav-dot dot-" + state;
    }
    if (state === "passed" && !wasDone) {
      stepPassed(section);
    }
  }

  // A `step` event: the same result panel and badge the Check button swaps in.
  function onStepFragment(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var wrap = tpl.content.querySelector(".live-step[data-step]");
    if (!wrap) {
      return;
    }
    var id = wrap.getAttribute("data-step");
    var badge = wrap.querySelector(".badge");
    var old = document.getElementById("badge-" + id);
    if (badge && old) {
      badge.removeAttribute("hx-swap-oob");
      wrap.removeChild(badge);
      old.replaceWith(badge);
    }
    var result = document.getElementById("result-" + id);
    if (result) {
      result.textContent = "";
      while (wrap.firstChild) {
        result.appendChild(wrap.firstChild);
      }
      enhance(result);
    }
    applyStepState(id, wrap.getAttribute("data-state"));
  }

  // The lab was reset elsewhere (another tab, the instructor): every step goes back to the
  // start, so the page takes its steps, progress and summary from the server again.
  function reloadLab(message) {
    var lab = labRoot();
    if (!lab) {
      return;
    }
    fetch("/labs/" + encodeURIComponent(lab.dataset.lab), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["lab-progress", "lab-nav", "lab-body"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) {
            var node = document.importNode(fresh, true);
            old.replaceWith(node);
            if (window.htmx) {
              window.htmx.process(node);
            }
            enhance(node);
          }
        });
        var note = document.getElementById("lab-notice");
        if (note && message) {
          note.textContent = message;
          note.hidden = false;
        }
        openFromHash();
        tick();
      })
      .catch(function () { window.location.reload(); });
  }

  function setConnection(html) {
    var old = document.getElementById("connection");
    if (!old) {
      return;
    }
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var fresh = tpl.content.querySelector(".connection");
    if (fresh) {
      old.replaceWith(fresh);
    }
  }

  function serverLost(live) {
    var el = document.getElementById("connection");
    if (!el) {
      return;
    }
    el.className = "connection connection-server";
    var label = el.querySelector(".connection-label");
    if (label) {
      label.textContent = live.getAttribute("data-server-lost") || "…";
    }
    el.removeAttribute("title");
  }

  // One live stream per visible page: browsers allow few connections per server over HTTP/1.1,
  // so hidden tabs give theirs back and resynchronize when shown again.
  var liveSource = null;
  var liveEnded = false;

  function stopLive() {
    if (liveSource) {
      liveSource.close();
      liveSource = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      stopLive();
    } else if (!liveSource) {
      startLive();
    }
  });
  window.addEventListener("pagehide", stopLive);

  function startLive() {
    var live = document.getElementById("live");
    var url = live && live.getAttribute("data-live");
    if (!url || !window.EventSource || liveSource || liveEnded) {
      return;
    }
    live.hidden = false;
    var source = new EventSource(url);
    liveSource = source;
    source.addEventListener("step", function (e) { onStepFragment(e.data); });
    source.addEventListener("objects", function (e) {
      var box = document.getElementById("live-objects");
      if (box) {
        box.innerHTML = e.data;
        tick();
      }
    });
    source.addEventListener("cluster", function (e) { setConnection(e.data); });
    source.addEventListener("reset", function (e) { reloadLab(e.data); });
    // The workshop ended: nothing more will come; say so and stop for good.
    source.addEventListener("ended", function (e) {
      liveEnded = true;
      stopLive();
      var note = document.getElementById("lab-notice");
      if (note) {
        note.textContent = e.data;
        note.hidden = false;
      }
      document.body.setAttribute("data-workshop-ended", "true");
    });
    // kubelab is stopping: the browser reconnects by itself once it is back, and the first
    // events after that resynchronize the page.
    source.addEventListener("shutdown", function () { serverLost(live); });
    source.addEventListener("error", function () {
      serverLost(live);
      if (source.readyState === EventSource.CLOSED && liveSource === source) {
        // The browser gave up (an error page instead of a stream): try again later.
        liveSource = null;
        window.setTimeout(startLive, 5000);
      }
    });
  }

  // Check (htmx): the result is in; the badge was swapped out of band.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || !target.id || target.id.indexOf("result-") !== 0) {
      return;
    }
    var id = target.id.slice("result-".length);
    var badge = document.getElementById("badge-" + id);
    if (!badge) {
      return;
    }
    STATES.forEach(function (s) {
      if (badge.classList.contains("badge-" + s)) {
        applyStepState(id, s);
      }
    });
  });

  // A link to a step (the nav, a bookmark) unfolds it.
  function openFromHash() {
    var hash = window.location.hash;
    if (hash.indexOf("#step-") === 0) {
      unfold(document.getElementById(hash.slice(1)));
    }
  }
  window.addEventListener("hashchange", openFromHash);

  function startLab() {
    if (!labRoot()) {
      return;
    }
    openFromHash();
    tick();
    window.setInterval(tick, 1000);
    startLive();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); startLab(); });
  } else {
    enhance(document);
    startLab();
  }
})();
