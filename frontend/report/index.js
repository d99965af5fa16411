// The citizen's report form (/report/): a map to place the pin, the phone's
// GPS, the photo's own location, photos made smaller before upload, and a
// submission with an Idempotency-Key. Without this script the form still
// posts as a plain multipart form; the server checks everything either way.
import "../citizen.css";
import "./report.css";
import { placeMap } from "./map.js";
import { photoHints, showPreviews, withResizedPhotos } from "./photos.js";
import { sendForm } from "./send.js";

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
    showPreviews(photos, previews);
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
    const body = await withResizedPhotos(form, photos);
    const key = form.elements.namedItem("client_uuid").value;
    if (!(await sendForm(form, body, { "Idempotency-Key": key }))) submit.disabled = false;
  });
}
