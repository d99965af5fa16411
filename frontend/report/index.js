// The citizen's report form (/report/): a map to place the pin, the phone's
// GPS, the photo's own location, photos made smaller before upload, and a
// submission with an Idempotency-Key. Without this script the form still
// posts as a plain multipart form; the server checks everything either way.
import "../citizen.css";
import "./report.css";
import { placeMap } from "./map.js";
import { photoHints, resized } from "./photos.js";
import { showErrors } from "./errors.js";

const form = document.getElementById("report-form");
if (form) start(form);

function start(form) {
  const lng = form.elements.namedItem("lng");
  const lat = form.elements.namedItem("lat");
  const status = document.getElementById("location-status");
  const map = placeMap(document.getElementById("map"), (point) => setPoint(point));
  document.getElementById("coordinates").classList.add("c-hidden");
  document.getElementById("location-hint-map").classList.remove("c-hidden");

  function setPoint({ lng: x, lat: y }, said) {
    lng.value = x.toFixed(6);
    lat.value = y.toFixed(6);
    map.pin({ lng: x, lat: y });
    status.textContent = said || form.dataset.pinSet;
  }
  if (lng.value && lat.value) setPoint({ lng: Number(lng.value), lat: Number(lat.value) });

  const gps = document.getElementById("use-gps");
  if ("geolocation" in navigator) {
    gps.classList.remove("c-hidden");
    gps.addEventListener("click", () => {
      status.textContent = form.dataset.gpsWaiting;
      navigator.geolocation.getCurrentPosition(
        (position) =>
          setPoint(
            { lng: position.coords.longitude, lat: position.coords.latitude },
            form.dataset.gpsFound,
          ),
        () => {
          status.textContent = form.dataset.gpsFailed;
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
      );
    });
  }

  const photos = form.elements.namedItem("photos");
  const fromPhoto = document.getElementById("use-photo-location");
  let photoPoint = null;
  const previews = document.getElementById("photo-previews");
  photos.addEventListener("change", async () => {
    fromPhoto.classList.add("c-hidden");
    for (const image of previews.querySelectorAll("img")) URL.revokeObjectURL(image.src);
    previews.replaceChildren(
      ...[...photos.files].map((file) => {
        const image = document.createElement("img");
        image.src = URL.createObjectURL(file);
        image.alt = "";
        return image;
      }),
    );
    const first = photos.files[0];
    if (!first) return;
    photoPoint = await photoHints(form.dataset.hintsUrl, first);
    if (photoPoint) fromPhoto.classList.remove("c-hidden");
  });
  fromPhoto.addEventListener("click", () => {
    if (photoPoint) setPoint(photoPoint, form.dataset.photoFound);
  });

  // The category is a set of radio buttons: the short list, then the rest.
  const showQuestions = () => {
    const chosen = form.elements.namedItem("category").value;
    for (const set of form.querySelectorAll("[data-questions-for]")) {
      set.classList.toggle("c-hidden", set.dataset.questionsFor !== chosen);
    }
  };
  form.addEventListener("change", (event) => {
    if (event.target.name === "category") showQuestions();
  });
  showQuestions();

  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const body = new FormData(form);
      body.delete("photos");
      for (const file of photos.files) {
        const photo = await resized(file);
        body.append("photos", photo, photo.name || file.name);
      }
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: {
          Accept: "application/json",
          "Idempotency-Key": form.elements.namedItem("client_uuid").value,
        },
        credentials: "same-origin",
      });
      const answer = await response.json();
      if (response.ok && answer.next) {
        window.location.assign(answer.next);
        return;
      }
      showErrors(form, answer.error || { message: form.dataset.failed });
    } catch {
      showErrors(form, { message: form.dataset.failed });
    }
    submit.disabled = false;
  });
}
