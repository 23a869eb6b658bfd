/* The room list: live online counts per room. */
(function () {
  "use strict";

  function setCount(slug, online) {
    for (const el of document.querySelectorAll("[data-room-online]")) {
      if (el.dataset.roomOnline === slug) el.textContent = String(online);
    }
  }

  Live.connect("/ws/chat/", {
    onFrame(frame) {
      if (frame.type === "rooms") for (const room of frame.rooms) setCount(room.slug, room.online);
      else if (frame.type === "room.online") setCount(frame.slug, frame.online);
    },
  });
})();
