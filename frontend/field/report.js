// The report in one hand: photos (camera or gallery, made smaller unless the
// worker keeps the originals), the pin from GPS (draggable; the photo's own
// place offered) with the grid it falls in, the category by search, pinyin
// initials or recent use, quick phrases, and a send that goes through the
// phone's queue: without a signal the report waits there and goes later.
import { photoHints, resized } from "../report/photos.js";
import { showErrors } from "../report/errors.js";
import { draggablePin, gridMap } from "./map.js";
import * as queue from "./queue.js";

const RECENT = "field-recent-categories";

export function startReport(form, outbox) {
  const said = form.dataset;
  const lng = form.elements.namedItem("lng");
  const lat = form.elements.namedItem("lat");
  const status = document.getElementById("location-status");
  const gridLine = document.getElementById("location-grid");
  document.getElementById("coordinates").classList.add("c-hidden");
  const map = gridMap(document.getElementById("map"));
  let lookup = 0;
  const pin = draggablePin(map, (point) => setPoint(point, said.pinSet));

  async function setPoint({ lng: x, lat: y }, message) {
    lng.value = x.toFixed(6);
    lat.value = y.toFixed(6);
    pin({ lng: x, lat: y });
    status.textContent = message;
    const asked = ++lookup;
    gridLine.textContent = "";
    gridLine.classList.remove("outside");
    for (let attempt = 0; attempt < 3; attempt++) {
      let response;
      try {
        response = await fetch(`${said.locateUrl}?lng=${lng.value}&lat=${lat.value}`, {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
      } catch {
        return; // no signal: the server places the report when it goes
      }
      if (asked !== lookup) return;
      if (response.ok) {
        const { grid } = await response.json();
        gridLine.textContent = `${said.inGrid}: ${grid.name} (${grid.code})`;
        return;
      }
      if (response.status === 404) {
        gridLine.classList.add("outside");
        gridLine.textContent = said.outside;
        return;
      }
      // Busy (503) or another passing failure: ask again shortly.
      const wait = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 5) * 1000));
    }
  }

  function locate() {
    status.textContent = said.gpsWaiting;
    navigator.geolocation.getCurrentPosition(
      (p) => setPoint({ lng: p.coords.longitude, lat: p.coords.latitude }, said.gpsFound),
      () => { status.textContent = said.gpsFailed; },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  }
  const gps = document.getElementById("use-gps");
  if ("geolocation" in navigator) {
    gps.classList.remove("c-hidden");
    gps.addEventListener("click", locate);
    if (!lng.value) locate(); // no tap needed: the pin starts where the worker stands
  }
  if (lng.value && lat.value) setPoint({ lng: Number(lng.value), lat: Number(lat.value) }, said.pinSet);

  // Photos: taken one by one with the camera, or several from the gallery.
  const gallery = form.elements.namedItem("photos");
  const camera = document.getElementById("camera");
  const keepOriginal = document.getElementById("keep-original");
  const previews = document.getElementById("photo-previews");
  const fromPhoto = document.getElementById("use-photo-location");
  let chosen = [];
  let photoPoint = null;
  function showPhotos() {
    for (const image of previews.querySelectorAll("img")) URL.revokeObjectURL(image.src);
    previews.replaceChildren(...chosen.map((file) => {
      const image = document.createElement("img");
      image.src = URL.createObjectURL(file);
      image.alt = "";
      return image;
    }));
    document.getElementById("keep-original-label").classList.toggle("c-hidden", !chosen.length);
  }
  async function addPhotos(files) {
    chosen = chosen.concat([...files]);
    showPhotos();
    if (!photoPoint && chosen[0]) {
      photoPoint = await photoHints(said.hintsUrl, chosen[0]);
      if (photoPoint) fromPhoto.classList.remove("c-hidden");
    }
  }
  for (const input of [gallery, camera]) {
    input.addEventListener("change", () => {
      addPhotos(input.files);
      input.value = "";
    });
  }
  fromPhoto.addEventListener("click", () => photoPoint && setPoint(photoPoint, said.photoFound));

  // Category: search, recent, and the chosen one's questions.
  const search = document.getElementById("category-search");
  const choices = [...form.querySelectorAll(".f-category")];
  search.addEventListener("input", () => {
    const typed = search.value.trim().toLowerCase().replace(/\s+/g, "_");
    for (const choice of choices) choice.classList.toggle("c-hidden", !choice.dataset.search.includes(typed));
  });
  const category = form.elements.namedItem("category");
  const showQuestions = () => {
    for (const set of form.querySelectorAll("[data-questions-for]")) {
      set.classList.toggle("c-hidden", set.dataset.questionsFor !== category.value);
    }
  };
  form.addEventListener("change", (event) => event.target.name === "category" && showQuestions());
  showQuestions();
  const recent = JSON.parse(localStorage.getItem(RECENT) || "[]");
  const recentBox = document.getElementById("recent-categories");
  for (const code of recent) {
    const radio = form.querySelector(`input[name=category][value="${CSS.escape(code)}"]`);
    if (!radio) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = radio.parentElement.querySelector(".f-category-name").textContent;
    button.dataset.code = code;
    button.addEventListener("click", () => { radio.checked = true; showQuestions(); });
    recentBox.append(button);
    recentBox.classList.remove("c-hidden");
  }

  const description = form.elements.namedItem("description");
  for (const phrase of form.querySelectorAll("[data-phrase]")) {
    phrase.addEventListener("click", () => {
      description.value = description.value ? `${description.value}，${phrase.dataset.phrase}` : phrase.dataset.phrase;
    });
  }

  // A refused report from the queue, back in the form to be fixed.
  const fixing = new URLSearchParams(window.location.search).get("fix");
  if (fixing) {
    queue.get(fixing).then(async (report) => {
      if (!report) return;
      for (const [name, value] of report.fields) {
        if (name === "client_uuid" || name === "csrfmiddlewaretoken") continue;
        const field = form.elements.namedItem(name);
        if (field instanceof RadioNodeList) field.value = value;
        else if (field) field.value = value;
      }
      chosen = report.photos.map((p) => new File([p.blob], p.name, { type: p.blob.type }));
      showPhotos();
      showQuestions();
      if (lng.value && lat.value) setPoint({ lng: Number(lng.value), lat: Number(lat.value) }, said.pinSet);
      await queue.remove(fixing);
      outbox.render();
      if (report.error) showErrors(form, report.error);
    });
  }

  const submit = form.querySelector("button[type=submit]");
  const key = form.elements.namedItem("client_uuid");
  // A key of this page's own: the page may come from the service worker's
  // cache, with the key of a report sent from it before.
  key.value = newKey();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const fields = [...new FormData(form).entries()].filter(
      ([name, value]) => name !== "photos" && name !== "client_uuid" && typeof value === "string",
    );
    const photos = [];
    for (const file of chosen) {
      const photo = keepOriginal.checked ? file : await resized(file);
      photos.push({ blob: photo, name: photo.name || file.name });
    }
    const picked = form.querySelector("input[name=category]:checked");
    const summary = [picked && picked.parentElement.querySelector(".f-category-name").textContent,
      description.value.slice(0, 30)].filter(Boolean).join(" · ");
    const report = { key: key.value, url: form.action, fields, photos, summary };
    await outbox.add(report);
    if (category.value) {
      localStorage.setItem(RECENT, JSON.stringify([category.value, ...recent.filter((c) => c !== category.value)].slice(0, 5)));
    }
    const outcome = (await outbox.sendAll()).get(report.key) || { state: "waiting" };
    if (outcome.state === "sent") {
      window.location.assign(outcome.answer.next);
      return;
    }
    if (outcome.state === "refused") {
      await queue.remove(report.key); // the form holds it: fixed here, sent again
      outbox.render();
      showErrors(form, outcome.error);
    } else {
      if (!outcome.signedOut) outbox.notice(said.queued); // else the outbox asks to sign in
      const here = [lng.value, lat.value]; // the next report is likely near
      form.reset();
      [lng.value, lat.value] = here;
      chosen = [];
      showPhotos();
      showQuestions();
    }
    key.value = newKey();
    submit.disabled = false;
  });
}

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
