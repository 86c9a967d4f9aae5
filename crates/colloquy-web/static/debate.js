// The live debate room: new messages arrive over Server-Sent Events (the browser resumes
// with Last-Event-ID after a drop, and the server replays exactly what was missed). Readers
// can pause (new messages are counted, not shown), filter to one question or to the host
// team, and turn the screen-reader announcements off. Without JavaScript the page is the
// transcript so far, with working forms; refreshing it shows what is new.
(function () {
  "use strict";
  var room = document.getElementById("room");
  if (!room || !window.EventSource) return;
  var stream = document.getElementById("stream");
  var tpl = document.getElementById("msg-template");
  var announcer = document.getElementById("announcer");
  var announce = document.getElementById("announce");
  var pauseBtn = document.getElementById("pause");
  var showNew = document.getElementById("show-new");
  var newCount = document.getElementById("new-count");
  var filter = document.getElementById("filter");
  var status = document.getElementById("conn-status");
  var tools = document.getElementById("room-tools");
  var state = room.getAttribute("data-state");
  var paused = false;
  var held = [];
  var pendingAnnounce = [];
  var announceTimer = null;
  if (tools) tools.hidden = false;

  function byId(id) { return document.getElementById("m" + id); }

  function matches(li) {
    var f = filter ? filter.value : "all";
    if (f === "all") return true;
    if (f === "staff") return li.getAttribute("data-staff") === "1";
    var q = f.slice(1);
    var kind = li.getAttribute("data-kind");
    return (kind === "question" || kind === "answer") && li.getAttribute("data-question") === q;
  }

  function applyFilter(li) { li.hidden = !matches(li); }

  function say(text) {
    if (!announce || !announce.checked) return;
    pendingAnnounce.push(text);
    if (announceTimer) return;
    // Several messages in a burst become one short announcement, not a flood.
    announceTimer = setTimeout(function () {
      var items = pendingAnnounce;
      pendingAnnounce = [];
      announceTimer = null;
      announcer.textContent = items.length > 3 ? items.length + " new messages." : items.join(" ");
    }, 1500);
  }

  function label(m) {
    if (m.kind === "question") return "Q" + m.question;
    if (m.kind === "answer") return "A" + m.question;
    return "";
  }

  function render(m) {
    var li;
    if (tpl) {
      li = tpl.content.firstElementChild.cloneNode(true);
    } else {
      li = document.createElement("li");
      li.innerHTML = '<p class="msg-head"><strong class="msg-author"></strong> <a class="msg-time"><time></time></a> <span class="msg-reply" hidden>replying to <a></a></span></p><div class="msg-body"></div><p class="msg-reactions"></p>';
    }
    li.id = "m" + m.id;
    li.className = "msg kind-" + m.kind + (m.author && m.author.staff ? " by-staff" : "");
    li.setAttribute("data-id", m.id);
    li.setAttribute("data-kind", m.kind);
    li.setAttribute("data-question", m.question == null ? "" : m.question);
    li.setAttribute("data-staff", m.author && m.author.staff ? "1" : "");
    var head = li.querySelector(".msg-head");
    var lab = label(m);
    var old = head.querySelector(".msg-label");
    if (old) old.remove();
    if (lab) {
      var a = document.createElement("a");
      a.className = "msg-label";
      var target = m.kind === "answer" ? stream.querySelector('li[data-kind="question"][data-question="' + m.question + '"]') : null;
      a.href = "#" + (target ? target.id : "m" + m.id);
      a.textContent = lab;
      head.insertBefore(document.createTextNode(" "), head.firstChild);
      head.insertBefore(a, head.firstChild);
    }
    li.querySelector(".msg-author").textContent = m.author ? m.author.name : "";
    var badge = head.querySelector(".badge");
    if (badge && !(m.author && m.author.staff)) badge.remove();
    if (!badge && m.author && m.author.staff) {
      // The page's template is a participant's message: add the badge the server would show.
      badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "host team";
      var author = head.querySelector(".msg-author");
      head.insertBefore(badge, author.nextSibling);
      head.insertBefore(document.createTextNode(" "), badge);
    }
    var time = li.querySelector("time");
    var when = new Date(m.at * 1000);
    time.setAttribute("datetime", when.toISOString());
    time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.querySelector(".msg-time").href = "#m" + m.id;
    var reply = li.querySelector(".msg-reply");
    if (m.reply_to) {
      var to = byId(m.reply_to);
      var link = reply.querySelector("a");
      link.href = "#m" + m.reply_to;
      link.textContent = (to ? to.querySelector(".msg-author").textContent + " " : "") + "(message " + m.reply_to + ")";
      reply.hidden = false;
    }
    // The server sanitised this HTML (the same renderer as the transcript page).
    li.querySelector(".msg-body").innerHTML = m.html;
    li.querySelectorAll("form").forEach(function (f) {
      f.setAttribute("action", f.getAttribute("action").replace("/messages/0/", "/messages/" + m.id + "/"));
    });
    li.querySelectorAll("[data-reply]").forEach(function (r) {
      r.setAttribute("data-reply", m.id);
      r.href = "?reply_to=" + m.id + "#compose";
    });
    li.querySelectorAll(".visually-hidden").forEach(function (s) {
      s.textContent = s.textContent.replace("message 0", "message " + m.id);
    });
    // One's own new message can be changed for 15 minutes, as on the page after a refresh.
    var editTpl = document.getElementById("edit-template");
    var me = room.getAttribute("data-me");
    if (editTpl && me && m.author && String(m.author.id) === me) {
      var edit = editTpl.content.firstElementChild.cloneNode(true);
      var ef = edit.querySelector("form");
      ef.setAttribute("action", ef.getAttribute("action").replace("/messages/0/", "/messages/" + m.id + "/"));
      var ta = edit.querySelector("textarea");
      ta.id = "edit-" + m.id;
      ta.value = m.body || "";
      edit.querySelector("label").setAttribute("for", ta.id);
      edit.querySelectorAll(".visually-hidden").forEach(function (s) {
        s.textContent = s.textContent.replace("message 0", "message " + m.id);
      });
      var actions = li.querySelector(".msg-actions");
      if (actions) actions.appendChild(edit);
    }
    li.querySelectorAll('input[name="user_id"]').forEach(function (u) {
      var f = u.closest("form");
      if (!(m.author && m.author.id && !m.author.staff)) { f.remove(); return; }
      u.value = m.author.id;
      // "Mute <name>", "Ban <name>" for screen readers, as on the messages the server drew.
      f.querySelectorAll("button .visually-hidden").forEach(function (s) { s.textContent = " " + m.author.name; });
    });
    return li;
  }

  function show(li) {
    applyFilter(li);
    stream.appendChild(li);
  }

  function onMessage(m) {
    if (byId(m.id)) return;
    if (m.kind === "question" && filter && !filter.querySelector('option[value="q' + m.question + '"]')) {
      var o = document.createElement("option");
      o.value = "q" + m.question;
      o.textContent = "Q" + m.question + " and its answers";
      filter.appendChild(o);
      var kind = document.getElementById("kind");
      if (kind) {
        var k = document.createElement("option");
        k.value = "answer:" + m.question;
        k.textContent = "an answer to Q" + m.question;
        var ask = kind.querySelector('option[value="question"]');
        kind.insertBefore(k, ask);
        if (ask) ask.textContent = "the next question (Q" + (m.question + 1) + ")";
      }
    }
    var li = render(m);
    if (paused) {
      held.push(li);
      newCount.textContent = held.length;
      showNew.hidden = false;
    } else {
      show(li);
    }
    var lab = label(m);
    say((lab ? lab + " " : "") + (m.author ? m.author.name : "") + ": " + (m.body || "").slice(0, 200));
  }

  function flush() {
    held.forEach(show);
    held = [];
    showNew.hidden = true;
    newCount.textContent = "0";
  }

  function onEdit(e) {
    var li = byId(e.id) || held.find(function (h) { return h.id === "m" + e.id; });
    if (!li || li.classList.contains("is-hidden")) return;
    li.querySelector(".msg-body").innerHTML = e.html;
    var ed = li.querySelector(".msg-edited");
    if (ed) ed.hidden = false;
  }

  function onHide(e) {
    var li = byId(e.id) || held.find(function (h) { return h.id === "m" + e.id; });
    if (!li) return;
    var body = li.querySelector(".msg-body");
    if (e.hidden) {
      li.classList.add("is-hidden");
      body.innerHTML = "<p><em>Hidden by a moderator.</em></p>";
    } else {
      li.classList.remove("is-hidden");
      if (e.html != null) body.innerHTML = e.html;
    }
    li.querySelectorAll("form.mod-form").forEach(function (f) {
      var action = f.getAttribute("action");
      if (/\/(hide|unhide)$/.test(action)) {
        f.setAttribute("action", action.replace(/(hide|unhide)$/, e.hidden ? "unhide" : "hide"));
        var b = f.querySelector(".hide-btn");
        if (b) b.firstChild.textContent = e.hidden ? "Show" : "Hide";
      }
    });
  }

  function onReaction(e) {
    var li = byId(e.id) || held.find(function (h) { return h.id === "m" + e.id; });
    if (!li) return;
    li.querySelectorAll(".reaction").forEach(function (r) {
      var n = e.counts[r.getAttribute("data-reaction")] || 0;
      r.querySelector(".count").textContent = n;
      r.hidden = n === 0;
    });
  }

  function onPin(e) {
    var box = document.getElementById("pinned");
    var body = document.getElementById("pinned-body");
    if (!box) return;
    if (e.id == null) { box.hidden = true; body.textContent = ""; return; }
    var li = byId(e.id);
    body.textContent = "";
    var p = document.createElement("p");
    var a = document.createElement("a");
    a.href = "#m" + e.id;
    a.textContent = li ? (li.querySelector(".msg-label") ? li.querySelector(".msg-label").textContent : "Message " + e.id) : "Message " + e.id;
    p.appendChild(a);
    if (li) p.appendChild(document.createTextNode(" " + li.querySelector(".msg-author").textContent + ":"));
    body.appendChild(p);
    if (li) body.appendChild(li.querySelector(".msg-body").cloneNode(true));
    box.hidden = false;
  }

  function onState(e) {
    var s = document.getElementById("room-state");
    var rules = document.getElementById("room-rules");
    if (e.state !== state) {
      state = e.state;
      room.setAttribute("data-state", state);
      if (s) s.textContent = state === "live" ? "Live now" : state === "ended" ? "Ended" : s.textContent;
      if (state === "ended") {
        say("The debate has ended.");
        if (es) es.close();
        var form = document.getElementById("compose-form");
        if (form) form.hidden = true;
      } else if (state === "live" && !document.getElementById("compose-form")) {
        // The compose form is only on the page of a live room: fetch it once.
        window.location.reload();
      }
    }
    if (rules) {
      rules.textContent = (e.locked ? "The room is locked by its moderators." : "") +
        (e.slow_seconds ? " Slow mode: one message every " + e.slow_seconds + " seconds." : "");
    }
  }

  // A transcript does not change any more (an ended debate is never reopened): it needs no
  // stream, and a reader of it is not counted among the room's readers.
  var es = null;
  if (state !== "ended") {
    var url = room.getAttribute("data-events") + "?after=" + encodeURIComponent(room.getAttribute("data-last") || "0");
    es = new EventSource(url);
    es.addEventListener("message", function (ev) { onMessage(JSON.parse(ev.data)); });
    es.addEventListener("edit", function (ev) { onEdit(JSON.parse(ev.data)); });
    es.addEventListener("hide", function (ev) { onHide(JSON.parse(ev.data)); });
    es.addEventListener("reaction", function (ev) { onReaction(JSON.parse(ev.data)); });
    es.addEventListener("pin", function (ev) { onPin(JSON.parse(ev.data)); });
    es.addEventListener("state", function (ev) { onState(JSON.parse(ev.data)); });
    es.addEventListener("open", function () {
      if (status) { status.hidden = true; status.textContent = ""; }
    });
    es.addEventListener("error", function () {
      if (status && state !== "ended") {
        status.hidden = false;
        status.textContent = "Connection lost; reconnecting. Nothing will be missed.";
      }
    });
  }

  if (pauseBtn) {
    pauseBtn.addEventListener("click", function () {
      paused = !paused;
      // A toggle button keeps its name ("Pause"); aria-pressed (and the style) say its state.
      pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
      if (!paused) flush();
    });
  }
  if (showNew) showNew.addEventListener("click", flush);
  if (filter) {
    filter.addEventListener("change", function () {
      stream.querySelectorAll("li.msg").forEach(applyFilter);
    });
  }

  // Forms send in the background and stay on the page; the stream shows the result.
  var composeStatus = document.getElementById("compose-status");
  function post(form, submitter) {
    var data = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    // The attribute, not form.action: a control named "action" (Mute/Ban) hides the property.
    return fetch(form.getAttribute("action"), {
      method: "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: data.toString(),
      credentials: "same-origin",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, body: j, retry: r.headers.get("Retry-After") }; });
    });
  }

  room.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.id === "compose-form") {
      ev.preventDefault();
      composeStatus.textContent = "Sending…";
      post(form, ev.submitter).then(function (r) {
        if (r.ok) {
          form.querySelector("textarea").value = "";
          var conf = document.getElementById("confirm-sensitive");
          if (conf) conf.checked = false;
          document.getElementById("sensitive").hidden = true;
          cancelReply();
          composeStatus.textContent = "Sent.";
          return;
        }
        var err = r.body && r.body.error ? r.body.error : { message: "Could not send (" + r.status + ")." };
        if (err.code === "confidentiality") document.getElementById("sensitive").hidden = false;
        composeStatus.textContent = err.message + (r.retry ? " (wait " + r.retry + " s)" : "");
      }).catch(function () { composeStatus.textContent = "Could not reach the server; your text is kept. Try again."; });
      return;
    }
    if (form.classList.contains("edit-form")) {
      ev.preventDefault();
      post(form, ev.submitter).then(function (r) {
        if (r.ok) {
          var d = form.closest("details");
          if (d) d.open = false;
        } else if (r.body && r.body.error) {
          say(r.body.error.message);
        }
      });
      return;
    }
    if (form.classList.contains("react-form") || form.classList.contains("mod-form")) {
      if (form.closest(".mod-panel")) return; // room controls reload the page
      ev.preventDefault();
      var who = ev.submitter && (ev.submitter.value === "mute" || ev.submitter.value === "ban") ? ev.submitter : null;
      post(form, ev.submitter).then(function (r) {
        if (!r.ok && r.body && r.body.error) say(r.body.error.message);
        // Muting and banning change no message, so nothing in the stream shows they worked.
        if (r.ok && who) {
          var note = document.createElement("span");
          note.setAttribute("role", "status");
          note.className = "mod-done";
          note.textContent = (who.value === "mute" ? "Muted" : "Banned") + (who.querySelector(".visually-hidden") ? who.querySelector(".visually-hidden").textContent : "") + ".";
          form.appendChild(note);
        }
      });
    }
  });

  var replyTo = document.getElementById("reply-to");
  var replying = document.getElementById("replying");
  function cancelReply() {
    if (!replyTo) return;
    replyTo.value = "";
    replying.hidden = true;
  }
  room.addEventListener("click", function (ev) {
    var r = ev.target.closest("[data-reply]");
    if (r && replyTo) {
      ev.preventDefault();
      var id = r.getAttribute("data-reply");
      replyTo.value = id;
      var link = document.getElementById("replying-link");
      link.href = "#m" + id;
      link.textContent = "message " + id;
      replying.hidden = false;
      document.getElementById("body").focus();
    }
    if (ev.target.id === "cancel-reply") cancelReply();
  });

  var presenceUrl = room.getAttribute("data-presence");
  function presence() {
    fetch(presenceUrl, { headers: { "Accept": "application/json" } }).then(function (r) { return r.json(); }).then(function (p) {
      document.getElementById("readers").textContent = p.readers;
      document.getElementById("participants").textContent = p.participants;
    }).catch(function () {});
  }
  setInterval(presence, 15000);
})();
