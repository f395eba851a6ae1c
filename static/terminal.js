// kubelab's browser terminal: the panel on the lab page (xterm.js over a WebSocket to
// /terminal/socket), re-attaching to the same server-side shell after a reload, and the Run
// buttons beside each Copy button. Loaded only on pages that offer a terminal (#terminal).
(function () {
  "use strict";

  var panel = document.getElementById("terminal");
  if (!panel || !window.Terminal) {
    return;
  }
  var STORE = "kubelab.terminal";
  var HEIGHT = "kubelab.terminal.height";
  var screenEl = panel.querySelector(".terminal-screen");
  var stateEl = panel.querySelector(".terminal-state");
  var stateLabel = panel.querySelector(".terminal-state-label");
  var restart = panel.querySelector(".terminal-restart");
  var toggle = panel.querySelector(".terminal-toggle");
  var grip = panel.querySelector(".terminal-grip");
  var labels = {
    connecting: panel.getAttribute("data-connecting"),
    connected: panel.getAttribute("data-connected"),
    reconnecting: panel.getAttribute("data-reconnecting"),
    ended: panel.getAttribute("data-ended")
  };

  // xterm.js styles itself with <style> elements, which the page's CSP (style-src 'self')
  // refuses; their rules are copied into a constructed stylesheet, which it allows.
  var sheet = null;
  function adoptStyles() {
    if (!("adoptedStyleSheets" in document) || typeof CSSStyleSheet !== "function") {
      return;
    }
    var css = Array.prototype.map.call(screenEl.querySelectorAll("style"), function (s) {
      return s.textContent;
    }).join("\n");
    if (!sheet) {
      sheet = new CSSStyleSheet();
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    }
    sheet.replaceSync(css);
  }
  new MutationObserver(adoptStyles).observe(screenEl, {
    childList: true, subtree: true, characterData: true
  });

  var term = new window.Terminal({
    cursorBlink: true,
    convertEol: false,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: false
  });
  var fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);

  var socket = null;
  var sessionId = window.sessionStorage.getItem(STORE) || "";
  var retry = 0;
  var ended = false;
  var queued = [];
  var encoder = new TextEncoder();

  function setState(state, detail) {
    panel.setAttribute("data-state", state);
    stateEl.className = "terminal-state connection connection-" + state;
    stateLabel.textContent = labels[state] + (detail ? ": " + detail : "");
    restart.hidden = state !== "ended";
  }

  function socketUrl() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var q = "csrf=" + encodeURIComponent(meta ? meta.getAttribute("content") : "") +
      "&cols=" + term.cols + "&rows=" + term.rows;
    if (sessionId) {
      q += "&session=" + encodeURIComponent(sessionId);
    }
    return scheme + window.location.host + "/terminal/socket?" + q;
  }

  function send(data) {
    if (socket && socket.readyState === WebSocket.OPEN && panel.getAttribute("data-state") === "connected") {
      socket.send(encoder.encode(data));
    } else {
      queued.push(data);
    }
  }

  function control(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  function onText(message) {
    var m;
    try {
      m = JSON.parse(message);
    } catch (e) {
      return;
    }
    if (m.type === "attached") {
      retry = 0;
      sessionId = m.id;
      window.sessionStorage.setItem(STORE, m.id);
      if (m.resumed) {
        term.reset();
      }
      setState("connected");
      control({ type: "resize", cols: term.cols, rows: term.rows });
      var pending = queued;
      queued = [];
      pending.forEach(send);
    } else if (m.type === "ended") {
      ended = true;
      sessionId = "";
      window.sessionStorage.removeItem(STORE);
      setState("ended", m.reason);
    } else if (m.type === "detached") {
      ended = true;
      setState("ended", panel.getAttribute("data-elsewhere"));
    } else if (m.type === "notice") {
      term.write("\r\n\x1b[33m[kubelab] " + m.text + "\x1b[0m\r\n");
    }
  }

  function connect() {
    ended = false;
    setState(retry === 0 ? "connecting" : "reconnecting");
    socket = new WebSocket(socketUrl());
    socket.binaryType = "arraybuffer";
    socket.onmessage = function (event) {
      if (typeof event.data === "string") {
        onText(event.data);
      } else {
        term.write(new Uint8Array(event.data));
      }
    };
    socket.onclose = function () {
      socket = null;
      if (ended) {
        return;
      }
      retry += 1;
      setState("reconnecting");
      window.setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retry)));
    };
  }

  term.onData(function (data) {
    if (!ended) {
      send(data);
    }
  });
  term.onResize(function (size) {
    control({ type: "resize", cols: size.cols, rows: size.rows });
  });

  // Copy and paste: the selection is copied when made (and with Ctrl+Shift+C); Ctrl+Shift+V
  // and the browser's own paste both paste. Alt+T moves focus between page and terminal.
  function copySelection() {
    var text = term.getSelection();
    if (text && navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(function () {});
    }
  }
  term.onSelectionChange(copySelection);
  term.attachCustomKeyEventHandler(function (event) {
    if (event.type !== "keydown") {
      return true;
    }
    if (event.ctrlKey && event.shiftKey && (event.key === "C" || event.key === "c")) {
      copySelection();
      return false;
    }
    if (event.ctrlKey && event.shiftKey && (event.key === "V" || event.key === "v")) {
      if (navigator.clipboard && navigator.clipboard.readText) {
        navigator.clipboard.readText().then(function (text) { term.paste(text); }, function () {});
      }
      return false;
    }
    if (event.altKey && (event.key === "t" || event.key === "T")) {
      toggle.focus();
      return false;
    }
    return true;
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey && (event.key === "t" || event.key === "T") && !panel.contains(document.activeElement)) {
      event.preventDefault();
      show(true);
      term.focus();
    }
  });

  // Resizing: drag the grip, or focus it and use the arrow keys; remembered per browser.
  function setHeight(px) {
    var h = Math.max(120, Math.min(window.innerHeight - 80, px));
    panel.style.setProperty("--terminal-height", h + "px");
    window.localStorage.setItem(HEIGHT, String(Math.round(h)));
    refit();
  }
  function refit() {
    if (!panel.classList.contains("is-collapsed")) {
      try {
        fit.fit();
      } catch (e) {
        // Not laid out yet.
      }
    }
  }
  grip.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    grip.setPointerCapture(event.pointerId);
    var startY = event.clientY;
    var startH = screenEl.getBoundingClientRect().height;
    function move(e) { setHeight(startH + (startY - e.clientY)); }
    function up() {
      grip.removeEventListener("pointermove", move);
      grip.removeEventListener("pointerup", up);
    }
    grip.addEventListener("pointermove", move);
    grip.addEventListener("pointerup", up);
  });
  grip.addEventListener("keydown", function (event) {
    var h = screenEl.getBoundingClientRect().height;
    if (event.key === "ArrowUp") {
      event.preventDefault();
      setHeight(h + 40);
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      setHeight(h - 40);
    }
  });
  window.addEventListener("resize", refit);

  function show(open) {
    panel.classList.toggle("is-collapsed", !open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.textContent = open ? panel.getAttribute("data-hide") : panel.getAttribute("data-show");
    if (open) {
      refit();
    }
  }
  toggle.addEventListener("click", function () {
    show(panel.classList.contains("is-collapsed"));
  });
  restart.addEventListener("click", function () {
    sessionId = "";
    retry = 0;
    term.reset();
    connect();
    term.focus();
  });

  // Run buttons: type the code block's command into the terminal and press Enter.
  function commandOf(button) {
    var block = button.closest(".code-block");
    var pre = block && block.querySelector("pre");
    return pre ? pre.innerText.replace(/\n+$/, "") : "";
  }
  function addRunButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (copyButton) {
      if (copyButton.parentNode.querySelector("button[data-run]")) {
        return;
      }
      var run = document.createElement("button");
      run.type = "button";
      run.className = copyButton.className + " btn-run";
      run.setAttribute("data-run", "");
      run.textContent = panel.getAttribute("data-run");
      run.title = panel.getAttribute("data-run-help");
      copyButton.insertAdjacentElement("afterend", run);
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-run]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var command = commandOf(button);
    if (!command) {
      return;
    }
    show(true);
    if (ended) {
      restart.click();
    }
    send(command.replace(/\r?\n/g, "\r") + "\r");
    term.focus();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    addRunButtons(event.detail.target);
  });

  var saved = parseInt(window.localStorage.getItem(HEIGHT) || "", 10);
  if (saved > 0) {
    panel.style.setProperty("--terminal-height", saved + "px");
  }
  panel.hidden = false;
  term.open(screenEl);
  adoptStyles();
  show(true);
  addRunButtons(document);
  connect();
  window.kubelabTerminal = term;
})();
