// The page /report/hash: a person's own pictures and videos are fingerprinted on their
// device (pdq.js: PDQ for a picture, MD5 for a video) and only the fingerprints go in
// the form, as hidden fields. The file input has no name, so the browser never sends
// the file itself. The page's words come from its data- attributes (translated there).
import { md5FromFile, pdqFromFile } from "./pdq.js";

// The server refuses a PDQ hash of lower quality: a picture that plain would match
// unrelated ones (takedown.cases.intake.MIN_PDQ_QUALITY).
const MIN_QUALITY = 50;

const form = document.getElementById("hash-form");
const input = document.getElementById("own-files");
const hashes = document.getElementById("hashes");
const progress = document.getElementById("hash-progress");
const status = document.getElementById("hash-status");
const send = document.getElementById("send");
let working = false;

const isVideo = (file) => file.type.startsWith("video/");

function keep(value) {
  const hidden = document.createElement("input");
  hidden.type = "hidden";
  hidden.name = "hash";
  hidden.value = value;
  hashes.append(hidden);
}

function showProgress(done, total) {
  progress.value = total ? Math.floor((100 * done) / total) : 100;
}

// The form's value for one file, or the name of the problem (a data- attribute).
async function fingerprint(file) {
  if (isVideo(file)) {
    progress.value = 0;
    progress.hidden = false;
    return { value: `md5:${await md5FromFile(file, showProgress)}` };
  }
  const { hash, quality } = await pdqFromFile(file);
  return quality >= MIN_QUALITY ? { value: `pdq:${hash}:${quality}` } : { problem: "tooPlain" };
}

async function fingerprintAll(files) {
  let problem = null;
  for (const file of files) {
    status.textContent = form.dataset[isVideo(file) ? "workingVideo" : "workingImage"];
    try {
      const found = await fingerprint(file);
      if (found.value) keep(found.value);
      problem = problem || found.problem || null;
    } catch {
      problem = problem || "unreadable"; // a format this browser cannot decode
    }
  }
  return problem;
}

input.addEventListener("change", async () => {
  working = true;
  send.disabled = true;
  hashes.replaceChildren();
  const problem = await fingerprintAll(Array.from(input.files));
  progress.hidden = true;
  status.textContent = form.dataset[problem || "ready"];
  working = false;
  send.disabled = false;
});

// Sending while a video is still being read would send too few fingerprints.
form.addEventListener("submit", (event) => {
  if (working) event.preventDefault();
});
