/**
 * The tagger page: a text box, the entities of each line highlighted with their types, a table of them, and plain
 * messages for an empty input and for lines longer than the model's window. Everything runs in the page
 * (tagger.ts); the folder only has to be served as static files.
 */
import { loadTagger, tagText, type LoadedTagger, type TaggedLine } from './tagger.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: #${id} is missing`);
  return el as T;
};

/** Up to 8 colour classes; types beyond reuse them in order. */
function typeClass(types: readonly string[], type: string): string {
  return `t${types.indexOf(type) % 8}`;
}

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderLine(line: TaggedLine, types: readonly string[], index: number): HTMLElement {
  const p = el('p', { class: 'line', 'data-line': String(index) });
  let at = 0;
  for (const e of line.prediction.entities) {
    const start = line.offsets[e.start]![0];
    const end = line.offsets[e.end - 1]![1];
    if (start > at) p.append(document.createTextNode(line.text.slice(at, start)));
    const mark = el('mark', {
      class: `ent ${typeClass(types, e.type)}`,
      'data-type': e.type,
      'data-words': e.text,
      title: `${e.type}, confidence ${((e.prob ?? 0) * 100).toFixed(0)}%`,
    });
    mark.append(document.createTextNode(line.text.slice(start, end)));
    mark.append(el('span', { class: 'badge' }, e.type));
    p.append(mark);
    at = end;
  }
  if (at < line.text.length) p.append(document.createTextNode(line.text.slice(at)));
  return p;
}

function render(tagger: LoadedTagger, lines: TaggedLine[], ms: number): void {
  const { model } = tagger;
  const types = model.schema.types;
  const out = $('output');
  const notes = $('notes');
  const table = $('entities');
  out.replaceChildren();
  notes.replaceChildren();
  table.replaceChildren();
  if (lines.length === 0) {
    out.append(
      el(
        'p',
        { class: 'empty', id: 'empty-message' },
        'Nothing to tag yet: type or paste text above, one sentence per line. Entities appear here as you type.',
      ),
    );
    $('summary').textContent = '';
    return;
  }
  lines.forEach((l, i) => out.append(renderLine(l, types, i)));
  const budget = model.maxLength - 2;
  lines.forEach((l, i) => {
    if (l.windows > 1)
      notes.append(
        el(
          'p',
          { class: 'note long-message' },
          `Line ${i + 1} is ${l.subTokens} sub-word tokens, longer than the model's window of ${budget} ` +
            `(${model.maxLength} with [CLS] and [SEP]). It was read in ${l.windows} overlapping windows, as msd predict ` +
            `does, and every word is tagged; words near a window's edge see less context.`,
        ),
      );
  });
  const all = lines.flatMap((l, i) => l.prediction.entities.map((e) => ({ line: i + 1, e })));
  if (all.length) {
    const head = el('tr');
    for (const h of ['line', 'type', 'entity', 'confidence']) head.append(el('th', {}, h));
    table.append(head);
    for (const { line, e } of all) {
      const tr = el('tr');
      tr.append(el('td', {}, String(line)));
      const td = el('td');
      td.append(el('span', { class: `chip ${typeClass(types, e.type)}` }, e.type));
      tr.append(td, el('td', {}, e.text), el('td', { class: 'num' }, `${((e.prob ?? 0) * 100).toFixed(0)}%`));
      table.append(tr);
    }
  }
  const n = all.length;
  $('summary').textContent =
    `${n} ${n === 1 ? 'entity' : 'entities'} in ${lines.length} ${lines.length === 1 ? 'line' : 'lines'}, ` +
    `tagged in ${ms.toFixed(0)} ms in this page`;
}

async function main(): Promise<void> {
  const input = $<HTMLTextAreaElement>('input');
  const status = $('status');
  document.body.dataset.state = 'loading';
  let tagger: LoadedTagger;
  try {
    tagger = await loadTagger(document.baseURI, (m) => (status.textContent = m));
  } catch (err) {
    document.body.dataset.state = 'error';
    status.textContent = `The model could not be loaded: ${(err as Error).message}. Serve this folder over http(s) (e.g. python3 -m http.server) rather than opening the file directly.`;
    status.classList.add('error');
    throw err;
  }
  const { meta, model } = tagger;
  $('title').textContent = meta.title;
  const legend = $('legend');
  for (const t of model.schema.types)
    legend.append(el('span', { class: `chip ${typeClass(model.schema.types, t)}` }, t));
  $('description').textContent = meta.description;
  $('model-info').textContent =
    `${model.encoder.config.numLayers} layers, ${model.encoder.config.hiddenSize} wide, ` +
    `${model.tokenizer.config.vocab.size.toLocaleString('en')} word pieces, window ${model.maxLength} sub-tokens; ` +
    `exported from ${meta.source}`;
  document.title = meta.title;
  status.textContent = 'Ready. The model runs in this page: nothing you type leaves your browser.';
  let pending: ReturnType<typeof setTimeout> | undefined;
  let runs = 0;
  const run = () => {
    document.body.dataset.state = 'busy';
    const t0 = performance.now();
    try {
      const lines = tagText(model, input.value);
      render(tagger, lines, performance.now() - t0);
      status.classList.remove('error');
    } catch (err) {
      status.textContent = `Tagging failed: ${(err as Error).message}`;
      status.classList.add('error');
    }
    document.body.dataset.tagged = String(++runs);
    document.body.dataset.state = 'ready';
  };
  input.addEventListener('input', () => {
    document.body.dataset.state = 'busy';
    clearTimeout(pending);
    pending = setTimeout(run, 200);
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-example]')) {
    b.addEventListener('click', () => {
      input.value = b.dataset.example ?? '';
      run();
    });
  }
  run();
}

void main();
