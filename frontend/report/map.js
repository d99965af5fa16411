// The city on a map: the base layer of MAP_TILE_URL when one is set, else the
// city's and districts' boundaries on a plain background.
import L from "leaflet";

export function placeMap(element, onPick) {
  element.classList.remove("c-map-off");
  const outline = JSON.parse(document.getElementById("city-outline").textContent);
  const map = L.map(element, { zoomControl: false, attributionControl: Boolean(element.dataset.tiles) });
  L.control
    .zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut })
    .addTo(map);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 19 }).addTo(map);
  }
  const shapes = L.geoJSON(outline, {
    style: (feature) =>
      feature.properties.level === 1
        ? { color: "#0b3d91", weight: 3, fill: true, fillColor: "#ffffff", fillOpacity: 0.6 }
        : { color: "#6f7780", weight: 1, dashArray: "4 4", fill: false },
    interactive: false,
  }).addTo(map);
  const bounds = shapes.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds);
  else map.setView([Number(element.dataset.lat), Number(element.dataset.lng)], 10);

  let marker = null;
  map.on("click", (event) => onPick({ lng: event.latlng.lng, lat: event.latlng.lat }));
  return {
    pin({ lng, lat }) {
      if (!marker) {
        marker = L.circleMarker([lat, lng], {
          radius: 11, color: "#b10e1e", weight: 4, fillColor: "#ffdd00", fillOpacity: 1,
        }).addTo(map);
      } else {
        marker.setLatLng([lat, lng]);
      }
      map.setView([lat, lng], Math.max(map.getZoom(), 15));
    },
  };
}
