/* A chat room page: history, live messages, presence, typing, composer. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const list = document.getElementById("messages");
  const olderButton = document.getElementById("load-older");
  const typingLine = document.getElementById("typing");
  const errorLine = document.getElementById("chat-error");
  const onlineList = document.getElementById("online");
  const onlineCount = document.getElementById("online-count");
  const composer = document.getElementById("composer");
  const input = document.getElementById("composer-body");

  const shown = new Map(); // message id -> <li>, so nothing is ever shown twice
  const online = new Map(); // user id -> username (large rooms list only some)
  let onlineTotal = 0;
  const typing = new Map(); // username -> timer
  let me = null;
  let typingTimeout = 5000;
  let lastTypingSent = 0;
  let errorTimer = null;

  const live = Live.connect("/ws/chat/" + config.slug + "/", {onFrame: handle, onClosed: closed});

  function timeLabel(iso) {
    const date = new Date(iso);
    return date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  // Every piece of user text goes through textContent: it is never parsed as HTML.
  function render(message) {
    const li = document.createElement("li");
    li.className = "message";
    li.dataset.id = message.id;
    li.id = "m" + message.id; // mention notifications link here
    if (me && message.author.id === me.id) li.classList.add("mine");
    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = message.author.username;
    const time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = timeLabel(message.created_at);
    meta.append(author, " ", time);
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = message.body;
    li.append(meta, body);
    return li;
  }

  function insert(message) {
    if (shown.has(message.id)) return false;
    const li = render(message);
    shown.set(message.id, li);
    // Keep id order whatever order frames arrive in (history pages, resume, live).
    let next = null;
    for (const [id, el] of shown) {
      if (id > message.id && (next === null || id < Number(next.dataset.id))) next = el;
    }
    list.insertBefore(li, next);
    live.seen(message.id);
    return true;
  }

  function add(messages) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    for (const message of messages) insert(message);
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  // A link to one message (#m<id>, from a mention): bring it into view once it is shown.
  function showLinked() {
    const target = location.hash.length > 2 && document.getElementById(location.hash.slice(1));
    if (!target || target.classList.contains("highlight")) return;
    target.classList.add("highlight");
    target.scrollIntoView({block: "center"});
  }

  function clearAll() {
    shown.clear();
    list.replaceChildren();
  }

  function renderOnline() {
    const names = [...online.values()].sort();
    onlineList.replaceChildren(
      ...names.map((name) => {
        const li = document.createElement("li");
        li.textContent = name;
        return li;
      }),
    );
    onlineCount.textContent = String(Math.max(onlineTotal, names.length));
  }

  function renderTyping() {
    const names = [...typing.keys()];
    if (names.length === 0) typingLine.textContent = "";
    else if (names.length === 1) typingLine.textContent = names[0] + " is typing…";
    else typingLine.textContent = names.join(", ") + " are typing…";
  }

  function stopTyping(username) {
    if (!typing.has(username)) return;
    clearTimeout(typing.get(username));
    typing.delete(username);
    renderTyping();
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => (errorLine.hidden = true), 6000);
  }

  function handle(frame) {
    switch (frame.type) {
      case "sync":
        me = frame.me;
        typingTimeout = frame.limits.typing_timeout_ms;
        if (frame.mode === "reset") clearAll();
        add(frame.messages);
        if (frame.has_more !== undefined && shown.size > 0) olderButton.hidden = !frame.has_more;
        online.clear();
        for (const user of frame.online) online.set(user.id, user.username);
        onlineTotal = frame.online_count;
        renderOnline();
        showLinked();
        break;
      case "message":
        add([frame.message]);
        stopTyping(frame.message.author.username);
        break;
      case "history":
        for (const message of frame.messages) insert(message);
        olderButton.hidden = !frame.has_more;
        break;
      case "message.deleted":
        for (const id of frame.ids) {
          const li = shown.get(id);
          if (li) li.remove();
          shown.delete(id);
        }
        break;
      case "presence":
        for (const user of frame.joined) {
          if (!online.has(user.id)) onlineTotal += 1;
          online.set(user.id, user.username);
        }
        for (const user of frame.left) {
          online.delete(user.id);
          stopTyping(user.username);
        }
        onlineTotal = frame.online_count;
        renderOnline();
        break;
      case "typing":
        if (me && frame.user.id === me.id) break;
        clearTimeout(typing.get(frame.user.username));
        // The indicator expires by itself unless the typist keeps typing.
        typing.set(
          frame.user.username,
          setTimeout(() => stopTyping(frame.user.username), frame.expires_in),
        );
        renderTyping();
        break;
      case "ack":
        break;
      case "error":
        showError(frame.message);
        break;
    }
  }

  function closed(code) {
    showError(code === 4404 ? "This room no longer exists." : "You cannot view this room.");
    if (composer) composer.querySelector("button").disabled = true;
  }

  olderButton.addEventListener("click", () => {
    const ids = [...shown.keys()];
    if (ids.length) live.send({type: "history", before_id: Math.min(...ids)});
  });

  if (composer) {
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (!live.send({type: "message.send", body: body})) {
        showError("Not connected; your message is kept here until the connection is back.");
        return;
      }
      input.value = "";
      lastTypingSent = 0;
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      const now = Date.now();
      if (input.value.trim() && now - lastTypingSent > typingTimeout / 2) {
        lastTypingSent = now;
        live.send({type: "typing"});
      }
    });
  }
})();
