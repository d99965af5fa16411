// Photos on the phone: their camera position (asked of the server, which
// reads EXIF) and a smaller copy for the upload.
const LONGEST_SIDE = 2048;

export async function photoHints(url, file) {
  const body = new FormData();
  body.append("photo", file);
  try {
    const response = await fetch(url, { method: "POST", body, credentials: "omit" });
    if (!response.ok) return null;
    const hints = await response.json();
    return hints.location && hints.grid ? hints.location : null;
  } catch {
    return null;
  }
}

// A JPEG whose longest side is at most 2,048 px; the file itself when it is
// already that small or the browser cannot decode it (the server decides).
export async function resized(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  const scale = LONGEST_SIDE / Math.max(bitmap.width, bitmap.height);
  if (scale >= 1) {
    bitmap.close();
    return file;
  }
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.88));
  if (!blob) return file;
  return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
}

// The form's fields, with the photos of ``input`` made smaller.
export async function withResizedPhotos(form, input) {
  const body = new FormData(form);
  body.delete(input.name);
  for (const file of input.files) {
    const photo = await resized(file);
    body.append(input.name, photo, photo.name || file.name);
  }
  return body;
}

// Small previews of the photos chosen in ``input``.
export function showPreviews(input, container) {
  for (const image of container.querySelectorAll("img")) URL.revokeObjectURL(image.src);
  container.replaceChildren(
    ...[...input.files].map((file) => {
      const image = document.createElement("img");
      image.src = URL.createObjectURL(file);
      image.alt = "";
      return image;
    }),
  );
}
