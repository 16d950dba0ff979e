// The web page's one module: pick or drop an image, preview it, then POST it to /caption (with
// food=true, falling back to a plain caption when the food models are not loaded) and /classify,
// and show the caption, the food label, per-stage timings and any problem+json error.
// Plain ES module, no build step; URLs are relative, so the page also works under a path prefix.

const el = (id) => document.getElementById(id);
const input = el('image');
const dropZone = el('drop-zone');
const status = el('status');
const errors = el('errors');
const result = el('result');
const preview = el('preview');

/** Increases with every image, so answers for an older image are dropped. */
let generation = 0;
let previewUrl;

/** POSTs the image as multipart field `image`; resolves to { ok, status, body } (body: JSON or problem). */
async function postImage(path, file) {
  const form = new FormData();
  form.append('image', file, file.name || 'image');
  const started = performance.now();
  const res = await fetch(path, { method: 'POST', body: form });
  const type = res.headers.get('content-type') || '';
  const body = type.includes('json')
    ? await res.json()
    : { title: res.statusText || `HTTP ${res.status}`, status: res.status, detail: (await res.text()).slice(0, 300) };
  return { ok: res.ok, status: res.status, body, roundTripMs: performance.now() - started };
}

/** A failed fetch (the gateway unreachable) becomes a problem too, so one renderer shows both. */
const networkProblem = (path, err) => ({
  ok: false,
  status: 0,
  body: { title: 'The gateway could not be reached', detail: `${path}: ${err instanceof Error ? err.message : String(err)}` },
});

async function captionImage(file) {
  try {
    const food = await postImage('caption?food=true', file);
    // 503 GW_ERR_MODEL_UNAVAILABLE: the food_caption ensemble is not loaded; the captioner may be.
    if (food.status === 503 && food.body.code === 'GW_ERR_MODEL_UNAVAILABLE') {
      return { ...(await postImage('caption', file)), foodSkipped: food.body };
    }
    return food;
  } catch (err) {
    return networkProblem('POST /caption', err);
  }
}

async function classifyImage(file) {
  try {
    return await postImage('classify?top_k=3', file);
  } catch (err) {
    return networkProblem('POST /classify', err);
  }
}

function showProblem(request, problem) {
  const box = document.createElement('section');
  box.className = 'problem';
  const heading = document.createElement('h3');
  heading.textContent = `${request}: ${problem.title || 'Error'}${problem.status ? ` (${problem.status})` : ''}`;
  const detail = document.createElement('p');
  detail.textContent = problem.detail || '';
  box.append(heading, detail);
  if (problem.code || problem.instance) {
    const meta = document.createElement('p');
    meta.className = 'problem-meta';
    meta.textContent = [problem.code && `code ${problem.code}`, problem.instance && `request ${problem.instance}`].filter(Boolean).join(' · ');
    box.append(meta);
  }
  errors.append(box);
}

const percent = (confidence) => `${(confidence * 100).toFixed(1)}%`;

function showTimings(rows) {
  const body = el('timings').querySelector('tbody');
  body.replaceChildren();
  for (const [request, timings] of rows) {
    for (const [stage, ms] of Object.entries(timings)) {
      const tr = document.createElement('tr');
      const cells = [request, stage, ms.toFixed(1)].map((text, i) => {
        const cell = document.createElement(i === 1 ? 'th' : 'td');
        if (i === 1) cell.scope = 'row';
        if (i === 2) cell.className = 'num';
        cell.textContent = text;
        return cell;
      });
      tr.append(...cells);
      body.append(tr);
    }
  }
  el('timings').hidden = rows.length === 0;
}

async function handleFile(file) {
  if (!file) return;
  const mine = ++generation;
  errors.replaceChildren();
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  preview.hidden = false;
  preview.src = previewUrl;
  preview.alt = `Preview of ${file.name || 'the image'}`;
  el('file-name').textContent = file.name || '';
  el('caption').textContent = '…';
  el('food').textContent = '…';
  showTimings([]);
  result.hidden = false;
  result.setAttribute('aria-busy', 'true');
  status.textContent = `Captioning ${file.name || 'the image'}…`;

  const [caption, classes] = await Promise.all([captionImage(file), classifyImage(file)]);
  if (mine !== generation) return;
  result.removeAttribute('aria-busy');

  if (caption.ok) {
    el('caption').textContent = caption.body.caption;
  } else {
    el('caption').textContent = 'No caption (see the error above).';
    showProblem('POST /caption', caption.body);
  }

  const top = classes.ok ? classes.body.labels[0] : undefined;
  const food = caption.ok && caption.body.food ? caption.body.food : top;
  el('food').textContent = food ? `${food.label} (${percent(food.confidence)} confidence)` : 'Not available.';
  if (!classes.ok) showProblem('POST /classify', classes.body);

  const rows = [];
  if (caption.ok) rows.push([caption.body.food ? 'caption (food)' : 'caption', { ...caption.body.timings_ms, 'round trip': caption.roundTripMs }]);
  if (classes.ok) rows.push(['classify', { ...classes.body.timings_ms, 'round trip': classes.roundTripMs }]);
  showTimings(rows);

  status.textContent = caption.ok ? `Captioned ${file.name || 'the image'}.` : `Could not caption ${file.name || 'the image'}.`;
}

preview.addEventListener('error', () => {
  preview.hidden = true;
});

input.addEventListener('change', () => handleFile(input.files?.[0]));

// Drag and drop onto the box; the file input stays the keyboard and screen-reader path.
for (const type of ['dragenter', 'dragover']) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'drop']) {
  dropZone.addEventListener(type, () => dropZone.classList.remove('dragging'));
}
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) handleFile(file);
});
