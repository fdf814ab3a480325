// PDQ perceptual hashing (Meta's published algorithm) and MD5, in the browser, so that
// a victim's own image or video is fingerprinted on their device: only the hash is
// ever sent, never the file. No build step and no dependencies, to keep the code that
// handles the file small enough to audit.

// The reference tool nearest-neighbour resizes anything larger than this (on either
// side) to this square before hashing; doing the same keeps our hashes beside its own.
const PRESCALE = 512;
const GRID = 64; // the luminance is filtered down to GRID x GRID ...
const BANDS = 16; // ... of which the lowest BANDS x BANDS DCT frequencies are kept.
const JAROSZ_PASSES = 2; // two box passes per axis approximate a tent filter.

// ---------------------------------------------------------------- decoding

/** Hash an image file: `{hash: "<64 hex>", quality: 0..100}`. Rejects if the browser
 * cannot decode it (Chromium reads no HEIC, for one). */
export async function pdqFromFile(file) {
  // Honour EXIF rotation (the victim sees the upright picture, as do the platforms);
  // ignore the embedded colour profile and alpha premultiplication, as the reference
  // tool does, so the pixel values are the file's own.
  const bitmap = await createImageBitmap(file, {
    imageOrientation: "from-image",
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  try {
    const { width, height } = bitmap;
    if (width <= PRESCALE && height <= PRESCALE) {
      return pdqFromRGBA(rowReader(bitmap, height)(0), width, height);
    }
    return pdqFromRGBA(prescaledPixels(bitmap), PRESCALE, PRESCALE);
  } finally {
    bitmap.close();
  }
}

// The PRESCALE x PRESCALE nearest-neighbour sample of a large bitmap, read one needed
// row at a time: a full-size copy of a phone photo would cost hundreds of megabytes
// on the very devices victims use. Gives exactly what lumaPlane samples from the whole.
function prescaledPixels(bitmap) {
  const { width, height } = bitmap;
  const readRow = rowReader(bitmap, 1);
  const out = new Uint8ClampedArray(PRESCALE * PRESCALE * 4);
  for (let r = 0; r < PRESCALE; r++) {
    const row = readRow(nearest(r, height));
    for (let c = 0; c < PRESCALE; c++) {
      const from = nearest(c, width) * 4;
      out.set(row.subarray(from, from + 4), (r * PRESCALE + c) * 4);
    }
  }
  return out;
}

// A reader of `count` rows of the bitmap from a given top row, as RGBA copied 1:1
// (no resampling), through one canvas only that size.
function rowReader(bitmap, count) {
  const { width } = bitmap;
  // A worker has no document; a page may lack OffscreenCanvas (older Safari).
  const canvas = typeof OffscreenCanvas === "function"
    ? new OffscreenCanvas(width, count)
    : Object.assign(document.createElement("canvas"), { width, height: count });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return (top) => {
    context.clearRect(0, 0, width, count);
    context.drawImage(bitmap, 0, top, width, count, 0, 0, width, count);
    return context.getImageData(0, 0, width, count).data;
  };
}

// ---------------------------------------------------------------- PDQ

/** Hash raw RGBA pixels (row-major, 4 bytes a pixel; alpha ignored). */
export function pdqFromRGBA(rgba, width, height) {
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new RangeError(`pdq: no ${width}x${height} RGBA image here`);
  }
  const plane = lumaPlane(rgba, width, height);
  for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
    boxFilter(plane, windowFor(plane.cols), true);
    boxFilter(plane, windowFor(plane.rows), false);
  }
  const grid = decimate(plane);
  return { hash: hashHex(dct(grid)), quality: quality(grid) };
}

// The pixel that row or column i of a PRESCALE-sized resize takes (nearest neighbour,
// rounding down, as the reference tool's resize does).
function nearest(i, size) {
  return Math.floor((i * size) / PRESCALE);
}

// Luminance (BT.601 weights) of the image, resized to PRESCALE x PRESCALE first if
// larger than that on either side.
function lumaPlane(rgba, width, height) {
  const big = width > PRESCALE || height > PRESCALE;
  const rows = big ? PRESCALE : height;
  const cols = big ? PRESCALE : width;
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const y = big ? nearest(r, height) : r;
    for (let c = 0; c < cols; c++) {
      const x = big ? nearest(c, width) : c;
      const p = (y * width + x) * 4;
      values[r * cols + c] = 0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2];
    }
  }
  return { values, rows, cols };
}

// Each pass's box covers half of one output cell, so two passes span a whole cell.
function windowFor(size) {
  return Math.ceil(size / (2 * GRID));
}

// A moving mean along every row (alongRows) or every column, in place. The box has
// floor((window - 1) / 2) samples before the centre and the rest after it; at the
// edges it is cut short and the mean is taken over the samples that remain.
function boxFilter(plane, window, alongRows) {
  const { values, rows, cols } = plane;
  const lines = alongRows ? rows : cols;
  const length = alongRows ? cols : rows;
  const step = alongRows ? 1 : cols;
  const before = Math.floor((window - 1) / 2);
  const after = window - 1 - before;
  const prefix = new Float64Array(length + 1); // prefix[k]: sum of the first k samples
  for (let line = 0; line < lines; line++) {
    const start = alongRows ? line * cols : line;
    for (let k = 0; k < length; k++) prefix[k + 1] = prefix[k] + values[start + k * step];
    for (let k = 0; k < length; k++) {
      const lo = Math.max(0, k - before);
      const hi = Math.min(length, k + after + 1);
      values[start + k * step] = (prefix[hi] - prefix[lo]) / (hi - lo);
    }
  }
}

// The filtered plane sampled at the centre of each of the GRID x GRID cells.
function decimate({ values, rows, cols }) {
  const grid = new Float64Array(GRID * GRID);
  for (let i = 0; i < GRID; i++) {
    const r = Math.floor(((i + 0.5) * rows) / GRID);
    for (let j = 0; j < GRID; j++) {
      grid[i * GRID + j] = values[r * cols + Math.floor(((j + 0.5) * cols) / GRID)];
    }
  }
  return grid;
}

// Rows 1..BANDS of the orthonormal DCT-II basis on GRID points: row 0 (the mean
// brightness) says nothing about the picture's structure, so PDQ leaves it out.
const BASIS = (() => {
  const basis = new Float64Array(BANDS * GRID);
  const scale = Math.sqrt(2 / GRID);
  for (let i = 0; i < BANDS; i++) {
    for (let j = 0; j < GRID; j++) {
      basis[i * GRID + j] = scale * Math.cos((Math.PI / (2 * GRID)) * (i + 1) * (2 * j + 1));
    }
  }
  return basis;
})();

// BASIS · grid · BASISᵀ: the BANDS x BANDS low frequencies, row-major.
function dct(grid) {
  const half = new Float64Array(BANDS * GRID); // BASIS · grid
  for (let i = 0; i < BANDS; i++) {
    for (let k = 0; k < GRID; k++) {
      const weight = BASIS[i * GRID + k];
      for (let j = 0; j < GRID; j++) half[i * GRID + j] += weight * grid[k * GRID + j];
    }
  }
  const out = new Float64Array(BANDS * BANDS);
  for (let i = 0; i < BANDS; i++) {
    for (let j = 0; j < BANDS; j++) {
      let sum = 0;
      for (let k = 0; k < GRID; k++) sum += half[i * GRID + k] * BASIS[j * GRID + k];
      out[i * BANDS + j] = sum;
    }
  }
  return out;
}

// Bit k (k = row * 16 + column of the coefficient) is set where the coefficient is
// above the median, the lower of the two middle values, so about half the bits are set.
// The reference writes the 256 bits as one big-endian number, bit 0 last: each row is
// a 16-bit word of 4 hex digits, the last row first.
function hashHex(coefficients) {
  const median = Float64Array.from(coefficients).sort()[coefficients.length / 2 - 1];
  let hex = "";
  for (let row = BANDS - 1; row >= 0; row--) {
    let word = 0;
    for (let col = 0; col < BANDS; col++) {
      if (coefficients[row * BANDS + col] > median) word |= 1 << col;
    }
    hex += word.toString(16).padStart(4, "0");
  }
  return hex;
}

// How much detail the 64x64 luminance has: the sum of the differences between
// neighbours (each as a whole percentage of full scale), over 90, capped at 100. A flat
// or nearly blank image scores low, and its hash is not worth matching on.
function quality(grid) {
  let sum = 0;
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID; j++) {
      const here = grid[i * GRID + j];
      if (i + 1 < GRID) sum += Math.trunc((Math.abs(here - grid[(i + 1) * GRID + j]) * 100) / 255);
      if (j + 1 < GRID) sum += Math.trunc((Math.abs(here - grid[i * GRID + j + 1]) * 100) / 255);
    }
  }
  return Math.min(100, Math.trunc(sum / 90));
}

// ---------------------------------------------------------------- MD5 (RFC 1321)

// Read this much at a time, so a large video is never in memory whole (a multiple of
// MD5's 64-byte block, so only the last chunk leaves a partial block).
const CHUNK = 4 * 1024 * 1024;

// Per-step left rotations, four for each of the four rounds.
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
// The additive constants: the integer part of 2^32 · |sin(i + 1)|.
const SINES = Uint32Array.from({ length: 64 },
  (_, i) => Math.floor(2 ** 32 * Math.abs(Math.sin(i + 1))));

/** Hex MD5 of a file's (or any Blob's) bytes: Web Crypto has no MD5, and videos are
 * matched by it. A large video takes seconds (about 75 MB/s on a desktop), so
 * `onProgress(bytesDone, totalBytes)`, if given, is called after each chunk. */
export async function md5FromFile(file, onProgress = () => {}) {
  const state = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  let offset = 0;
  for (; offset + CHUNK <= file.size; offset += CHUNK) {
    md5Blocks(state, new DataView(await file.slice(offset, offset + CHUNK).arrayBuffer()));
    onProgress(offset + CHUNK, file.size);
  }
  const rest = new Uint8Array(await file.slice(offset).arrayBuffer());
  md5Blocks(state, new DataView(md5Tail(rest, file.size).buffer));
  onProgress(file.size, file.size);
  // The digest is the four state words, each written low byte first.
  const digest = new DataView(new ArrayBuffer(16));
  state.forEach((word, i) => digest.setUint32(i * 4, word, true));
  return Array.from(new Uint8Array(digest.buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The last bytes, padded: a 1 bit, zeros up to 56 mod 64, then the length in bits as
// a 64-bit little-endian number (split, since it can pass 2^32 for a large video).
function md5Tail(rest, size) {
  const padded = new Uint8Array(Math.ceil((rest.length + 9) / 64) * 64);
  padded.set(rest);
  padded[rest.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, (size % 2 ** 29) * 8, true);
  view.setUint32(padded.length - 4, Math.floor(size / 2 ** 29), true);
  return padded;
}

// Fold every whole 64-byte block of the view into the state (any partial block at the
// end is md5Tail's to pad).
function md5Blocks(state, view) {
  const words = new Uint32Array(16);
  for (let block = 0; block + 64 <= view.byteLength; block += 64) {
    for (let w = 0; w < 16; w++) words[w] = view.getUint32(block + w * 4, true);
    let [a, b, c, d] = state;
    for (let step = 0; step < 64; step++) {
      const round = step >> 4;
      let f;
      let g;
      if (round === 0) { f = (b & c) | (~b & d); g = step; }
      else if (round === 1) { f = (d & b) | (~d & c); g = (5 * step + 1) & 15; }
      else if (round === 2) { f = b ^ c ^ d; g = (3 * step + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * step) & 15; }
      const sum = (a + f + SINES[step] + words[g]) | 0;
      const shift = SHIFTS[round * 4 + (step & 3)];
      [a, d, c] = [d, c, b];
      b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
  }
}
