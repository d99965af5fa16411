// A map of the worker's grids (their boundaries from the page), with a
// draggable pin for a report or the open cases as pins coloured by light.
import L from "leaflet";

const LIGHTS = { green: "#00703c", yellow: "#ffdd00", red: "#d4351c" };

export function gridMap(element) {
  element.classList.remove("c-map-off");
  const grids = JSON.parse(document.getElementById("my-grids").textContent);
  const map = L.map(element, { zoomControl: false, attributionControl: Boolean(element.dataset.tiles) });
  L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
  if (element.dataset.tiles) L.tileLayer(element.dataset.tiles, { maxZoom: 19 }).addTo(map);
  const shapes = L.geoJSON(grids, {
    style: { color: "#0b3d91", weight: 3, fillColor: "#ffffff", fillOpacity: 0.5 },
    interactive: false,
  }).addTo(map);
  const bounds = shapes.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds);
  else map.setView([Number(element.dataset.lat || 31.78), Number(element.dataset.lng || 119.95)], 12);
  return map;
}

export function casePins(map, pins) {
  for (const pin of pins) {
    if (!pin.location) continue;
    L.circleMarker([pin.location.lat, pin.location.lng], {
      radius: 10, color: "#0b0c0c", weight: 3, fillColor: LIGHTS[pin.light] || "#b1b4b6", fillOpacity: 1,
      className: `f-case-pin light-${pin.light || "none"}`,
    })
      .bindPopup(`<a href="${pin.url}">${pin.number}</a><br>${pin.status}`)
      .addTo(map);
  }
}

export function draggablePin(map, onMove) {
  let marker = null;
  const icon = L.divIcon({ className: "", html: '<div class="f-pin"></div>', iconSize: [28, 28], iconAnchor: [14, 28] });
  map.on("click", (event) => onMove({ lng: event.latlng.lng, lat: event.latlng.lat }));
  return ({ lng, lat }) => {
    if (!marker) {
      marker = L.marker([lat, lng], { draggable: true, icon, keyboard: false }).addTo(map);
      marker.on("dragend", () => {
        const at = marker.getLatLng();
        onMove({ lng: at.lng, lat: at.lat });
      });
    } else {
      marker.setLatLng([lat, lng]);
    }
    map.setView([lat, lng], Math.max(map.getZoom(), 16));
  };
}
