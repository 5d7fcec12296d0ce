/* The "Link phone" page, live: QR codes as they rotate, status, breaker, pairing codes.
 *
 * Frames come over the websocket /ws/instances/<id>/ (instances/consumers.py). A reconnect asks
 * for `?since=<last event id>` so nothing is missed; when websockets do not get through at all,
 * the page polls the same data as JSON and keeps retrying the websocket now and then.
 * Every frame carries its outbox id: state is applied only from frames newer than what is shown.
 */
(function () {
  "use strict";
  var root = document.getElementById("wz-live");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var LABELS = {
    qr_pending: "waiting for QR scan",
    disconnected: "disconnected (retry scheduled)",
    breaker_open: "circuit breaker open",
    qr_expired: "QR expired (request a new one)",
    logged_out: "logged out (scan a new QR)"
  };
  var POLL_MS = 2000, WS_RETRY_WHILE_POLLING_MS = 30000, PING_MS = 25000;
  var st = {
    lastId: 0, appliedId: 0, status: null, hasQr: false, expiresAt: null, offset: 0,
    failures: 0, pollTimer: null, refreshTimer: null, flashTimer: null
  };

  function setConn(text) { $("wz-conn").textContent = text; }

  // --- rendering ------------------------------------------------------------------------------
  function renderStatus(status, label, detail) {
    var badge = $("wz-status");
    badge.className = "wz-badge wz-status-" + status;
    badge.textContent = label || LABELS[status] || status;
    if (detail !== undefined) $("wz-detail").textContent = detail || "";
    st.status = status;
    if (status !== "qr_pending") showQr(null);
    $("wz-connected").hidden = status !== "connected";
    updateIdle();
  }

  function showQr(image, code, expiresAt) {
    var img = $("wz-qr");
    st.hasQr = !!image;
    $("wz-qr-box").hidden = !image;
    if (image) {
      img.src = image;
      img.setAttribute("data-qr", code || "");
      st.expiresAt = expiresAt ? Date.parse(expiresAt) : null;
    } else {
      img.removeAttribute("src");
      img.setAttribute("data-qr", "");
      st.expiresAt = null;
    }
    countdown();
    updateIdle();
  }

  function updateIdle() { $("wz-idle").hidden = st.hasQr || st.status === "connected"; }

  function renderConnected(phone, pushName) {
    if (phone) $("wz-phone").textContent = phone;
    $("wz-push-name").textContent = pushName || "";
  }

  function renderBreaker(b) {
    var badge = $("wz-breaker-state");
    badge.className = "wz-badge wz-breaker-" + b.state;
    badge.textContent = b.state;
    if (b.failures_in_window !== undefined) $("wz-failures").textContent = b.failures_in_window;
    $("wz-open-until").textContent = until(b.open_until);
    $("wz-breaker-reason").textContent = b.forced_reason || b.reason || "–";
  }

  function until(iso) {
    if (!iso) return "–";
    var at = Date.parse(iso), minutes = Math.round((at - (Date.now() + st.offset)) / 60000);
    var time = new Date(at).toLocaleTimeString();
    return minutes > 0 ? time + " (in " + minutes + " min)" : time;
  }

  function countdown() {
    var el = $("wz-countdown");
    if (!st.hasQr || !st.expiresAt) { el.textContent = ""; return; }
    var left = Math.max(0, Math.round((st.expiresAt - (Date.now() + st.offset)) / 1000));
    el.textContent = left > 0 ? "Expires in " + left + " s" : "Expired: the next code is on its way…";
  }

  function log(frame) {
    var list = $("wz-log");
    if (list.querySelector('li[data-id="' + frame.id + '"]')) return;
    var li = document.createElement("li");
    li.setAttribute("data-id", frame.id);
    var what = frame.status || frame.state || frame.code || frame.update || "";
    if (frame.type === "message.received") what = frame.kind + " from " + (frame.sender_phone || frame.chat || "?");
    li.textContent = (frame.at || "").slice(11, 19) + " · " + frame.type + " " + what + " " + (frame.detail || "");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 100) list.removeChild(list.lastChild);
  }

  // --- frames ---------------------------------------------------------------------------------
  function applySnapshot(s) {
    if (s.server_time) st.offset = Date.parse(s.server_time) - Date.now();
    renderStatus(s.status, s.status_label, s.detail);
    if (s.base64 && s.status === "qr_pending") showQr(s.base64, s.qr, s.expires_at);
    renderConnected(s.phone || s.jid, s.push_name);
    renderBreaker(s.breaker);
    st.appliedId = Math.max(st.appliedId, s.last_event_id);
    st.lastId = Math.max(st.lastId, s.last_event_id);
  }

  function handle(frame) {
    if (frame.type === "snapshot") return applySnapshot(frame);
    if (typeof frame.id !== "number") return; // pong
    log(frame);
    if (frame.type === "pair_code") $("wz-pair-code").textContent = frame.code || "";
    st.lastId = Math.max(st.lastId, frame.id);
    // A replayed frame is already reflected in the snapshot that came before it.
    if (frame.replay || frame.id <= st.appliedId) return;
    st.appliedId = frame.id;
    if (frame.type === "qr") {
      renderStatus("qr_pending");
      showQr(frame.base64, frame.qr, frame.expires_at);
    } else if (frame.type === "status") {
      renderStatus(frame.status, null, frame.detail);
      if (frame.status === "connected") renderConnected(frame.phone || frame.jid, frame.push_name);
    } else if (frame.type === "breaker") {
      renderBreaker(frame);
      refreshSoon(); // the frame has the state; the snapshot also has the failure counts
    }
  }

  // --- transport: websocket, polling as the fallback ------------------------------------------
  function connect() {
    if (!("WebSocket" in window)) return startPolling("polling (this browser has no websockets)");
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      root.getAttribute("data-ws-path") + (st.lastId ? "?since=" + st.lastId : "");
    var ws, opened = false, ping = null;
    try { ws = new WebSocket(url); } catch (e) { return startPolling("polling (websocket refused)"); }
    ws.onopen = function () {
      opened = true;
      st.failures = 0;
      stopPolling();
      setConn("live");
      ping = setInterval(function () { ws.send(JSON.stringify({ type: "ping" })); }, PING_MS);
    };
    ws.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (err) { if (window.console) console.error(err); }
    };
    ws.onclose = function () {
      if (ping) clearInterval(ping);
      if (!opened) st.failures += 1;
      if (st.failures >= 2) {
        startPolling("polling (websocket unavailable)");
        setTimeout(connect, WS_RETRY_WHILE_POLLING_MS);
        return;
      }
      setConn("reconnecting…");
      setTimeout(connect, opened ? 500 : 2000);
    };
  }

  function fetchJson(since) {
    var url = root.getAttribute("data-json-url") + (since ? "?since=" + since : "");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
          return body;
        });
      });
  }

  function poll() {
    fetchJson(st.lastId).then(function (data) {
      applySnapshot(data.snapshot);
      data.events.forEach(handle);
    }).catch(function (err) { setConn("unavailable: " + err.message); });
  }

  function startPolling(label) {
    setConn(label);
    if (st.pollTimer) return;
    poll();
    st.pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (st.pollTimer) clearInterval(st.pollTimer);
    st.pollTimer = null;
  }

  function refreshSoon() {
    clearTimeout(st.refreshTimer);
    st.refreshTimer = setTimeout(function () {
      fetchJson(0).then(function (data) { renderBreaker(data.snapshot.breaker); }).catch(function () {});
    }, 300);
  }

  // --- buttons --------------------------------------------------------------------------------
  function flash(text, isError) {
    var el = $("wz-flash");
    el.textContent = text;
    el.className = "wz-flash" + (isError ? " wz-error" : "");
    el.hidden = false;
    clearTimeout(st.flashTimer);
    st.flashTimer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-async]"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
      button.disabled = true;
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token }
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (res) {
        flash(res.body.message, !res.ok);
        if (res.body.code) $("wz-pair-code").textContent = res.body.code;
        refreshSoon();
      }).catch(function () {
        flash("The request did not go through; check the connection.", true);
      }).then(function () { button.disabled = false; });
    });
  });

  applySnapshot(JSON.parse($("wz-snapshot").textContent));
  setInterval(countdown, 1000);
  connect();
})();
