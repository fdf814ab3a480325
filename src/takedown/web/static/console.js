// The console's only script (its Content-Security-Policy allows no inline script).
// Media arrive blurred and grey from the server; the first button pressed on an item
// fetches its clear preview (or the video itself), which the server counts as a media
// view, and each button then lifts the blur or the grey alone.
"use strict";

function reveal(item) {
  if (item.dataset.revealed) return;
  item.dataset.revealed = "1";
  const still = item.querySelector("img");
  if (item.dataset.kind === "video") {
    const video = document.createElement("video");
    video.src = item.dataset.clear;
    video.controls = true;
    video.muted = true;
    video.preload = "metadata";
    still.replaceWith(video);
  } else {
    still.src = item.dataset.clear;
  }
  const counter = document.getElementById("views-today");
  if (counter) counter.textContent = String(Number(counter.textContent) + 1);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-toggle]");
  if (!button) return;
  const item = button.closest(".media-item");
  const cls = button.dataset.toggle;
  reveal(item);
  item.classList.toggle(cls);
  button.setAttribute("aria-pressed", String(!item.classList.contains(cls)));
});
