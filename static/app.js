// kubelab page script: CSRF header for htmx, copy buttons, hints, and small niceties.
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
})();
