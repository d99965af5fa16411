// The field app's case page: the case on a small map, photos full size on
// tap, the verify (核实) / inspect (核查) form sending photos made smaller on
// the phone, and the page kept current through the live client
// (static/governance/live.js). Without this script the form still posts as
// a plain multipart form; the server checks everything either way.
import "../../citizen.css";
import "../../report/report.css";
import "./tasks.css";
import L from "leaflet";
import { showPreviews, withResizedPhotos } from "../../report/photos.js";
import { sendForm } from "../../report/send.js";

const liveNode = document.getElementById("case-live");
const page = liveNode ? JSON.parse(liveNode.textContent) : null;
const form = document.getElementById("check-form");

showMap(document.getElementById("case-map"));
if (form) startForm(form);
for (const link of document.querySelectorAll("a[data-full]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    showFull(link.href, link.querySelector("img").alt);
  });
}
document.addEventListener("governance:case-event", (event) => {
  const message = event.detail;
  if (!page || message.case_id !== page.case_id || message.case_version <= page.version) return;
  if (form && formTouched(form)) {
    document.getElementById("case-changed").classList.remove("c-hidden");
  } else {
    window.location.reload();
  }
});

function showMap(element) {
  if (!element) return;
  const lng = Number(element.dataset.lng);
  const lat = Number(element.dataset.lat);
  if (!Number.isFinite(lng) || !Number.isFinite(lat)) return;
  element.classList.remove("c-map-off");
  const map = L.map(element, {
    zoomControl: false, attributionControl: Boolean(element.dataset.tiles), dragging: !L.Browser.mobile,
  });
  const outline = document.getElementById("grid-outline");
  const grid = outline
    ? L.geoJSON(JSON.parse(outline.textContent), {
        style: { color: "#0b3d91", weight: 3, fill: true, fillColor: "#ffffff", fillOpacity: 0.5 },
        interactive: false,
      })
    : null;
  // The view first (a vector layer needs one): the whole grid with the pin in
  // it, where the case is at a glance.
  const bounds = grid ? grid.getBounds().extend([lat, lng]) : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 17, animate: false });
  else map.setView([lat, lng], 16);
  L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
  if (element.dataset.tiles) L.tileLayer(element.dataset.tiles, { maxZoom: 19 }).addTo(map);
  if (grid) grid.addTo(map);
  L.circleMarker([lat, lng], {
    radius: 11, color: "#b10e1e", weight: 4, fillColor: "#ffdd00", fillOpacity: 1,
  }).addTo(map);
}

function showFull(url, alt) {
  const overlay = document.createElement("div");
  overlay.className = "t-full";
  overlay.setAttribute("role", "dialog");
  overlay.tabIndex = -1;
  const image = document.createElement("img");
  image.src = url;
  image.alt = alt || "";
  overlay.append(image);
  const close = () => overlay.remove();
  overlay.addEventListener("click", close);
  overlay.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  document.body.append(overlay);
  overlay.focus();
}

function formTouched(form) {
  return form.elements.namedItem("photos").files.length > 0 || form.elements.namedItem("note").value.trim() !== "";
}

function startForm(form) {
  const photos = form.elements.namedItem("photos");
  const previews = document.getElementById("photo-previews");
  photos.addEventListener("change", () => {
    showPreviews(photos, previews);
  });
  const buttons = form.querySelectorAll("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const button of buttons) button.disabled = true;
    const body = await withResizedPhotos(form, photos);
    body.set("outcome", event.submitter ? event.submitter.value : "");
    if (await sendForm(form, body)) return;
    for (const button of buttons) button.disabled = false;
  });
}
