/* The inbox page: live additions and read state, marking read over the socket. */
(function () {
  "use strict";

  const list = document.getElementById("inbox");
  const unreadLabel = document.getElementById("inbox-unread");
  const firstPage = list.dataset.page === "1";

  function item(n) {
    const li = document.createElement("li");
    li.className = "inbox-item level-" + n.level + (n.read ? "" : " unread");
    li.dataset.id = n.id;
    const main = document.createElement("div");
    main.className = "inbox-main";
    const title = document.createElement("a");
    title.className = "title";
    title.href = "/notifications/" + n.id + "/";
    title.textContent = n.title;
    main.append(title);
    if (n.body) {
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = n.body;
      main.append(body);
    }
    const time = document.createElement("time");
    time.dateTime = n.created_at;
    time.textContent = new Date(n.created_at).toLocaleString();
    main.append(time);
    li.append(main);
    if (!n.read) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = "Mark read";
      button.addEventListener("click", () => Notifications.markRead(n.id));
      li.append(button);
    }
    return li;
  }

  function add(n, update) {
    const shown = list.querySelector('[data-id="' + n.id + '"]');
    if (shown && update) {
      shown.replaceWith(item(n)); // a repeat folded in: new title and count, same place
      return;
    }
    if (!firstPage || shown) return;
    const empty = document.getElementById("inbox-empty");
    if (empty) empty.remove();
    // Newest first: put it before the first older one.
    const older = [...list.children].find((el) => Number(el.dataset.id) < n.id);
    list.insertBefore(item(n), older || null);
  }

  function markShownRead(ids) {
    for (const id of ids) {
      const li = list.querySelector('[data-id="' + id + '"]');
      if (!li) continue;
      li.classList.remove("unread");
      const control = li.querySelector(".mark-read, button.link");
      if (control) control.remove();
    }
  }

  document.addEventListener("notifications:frame", (event) => {
    const {frame, unread} = event.detail;
    if (frame.type === "sync") frame.notifications.forEach((n) => add(n, false));
    else if (frame.type === "notification") add(frame.notification, frame.update);
    else if (frame.type === "read") markShownRead(frame.ids);
    unreadLabel.textContent = unread;
  });

  // The forms work without JavaScript; with the socket open they need no page load.
  document.getElementById("mark-all-read").addEventListener("submit", (event) => {
    if (Notifications.markAllRead()) event.preventDefault();
  });
  for (const form of list.querySelectorAll("form.mark-read")) {
    form.addEventListener("submit", (event) => {
      const id = Number(form.closest("li").dataset.id);
      if (Notifications.markRead(id)) event.preventDefault();
    });
  }
})();
