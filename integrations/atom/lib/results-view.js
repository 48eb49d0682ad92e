'use strict';
// The results pane (Atom only: it builds DOM): each run's output as text,
// its images and HTML below it. Program output is only ever inserted as
// text, images as data: URLs and HTML into a sandboxed iframe without
// scripts, so nothing a program prints runs in the editor.

const URI = 'atom://bai-live-code-runner/results';

class ResultsView {
  constructor() {
    this.element = document.createElement('div');
    this.element.classList.add('bai-results', 'native-key-bindings');
    this.element.tabIndex = -1;
    this.element.style.overflow = 'auto';
    this.element.style.padding = '8px';
  }

  getTitle() {
    return 'Backend.AI';
  }

  getURI() {
    return URI;
  }

  getDefaultLocation() {
    return 'bottom';
  }

  /** startRun adds a section for a run and returns its output sink. */
  startRun(label) {
    const section = document.createElement('section');
    const title = document.createElement('h4');
    title.textContent = `▶ ${label}`;
    const pre = document.createElement('pre');
    pre.style.whiteSpace = 'pre-wrap';
    section.append(title, pre);
    this.element.append(section);
    // Keep the pane light: the newest 20 runs.
    while (this.element.children.length > 20) this.element.firstChild.remove();
    const scroll = () => {
      this.element.scrollTop = this.element.scrollHeight;
    };
    return {
      text: (t, isErr) => {
        const span = document.createElement('span');
        span.textContent = t;
        if (isErr) span.classList.add('text-error');
        pre.append(span);
        scroll();
      },
      note: (t) => {
        const div = document.createElement('div');
        div.classList.add('text-subtle');
        div.textContent = t;
        section.append(div);
        scroll();
      },
      media: (mime, data) => {
        section.append(mediaElement(mime, data));
        scroll();
      },
    };
  }

  destroy() {
    this.element.remove();
  }
}

function mediaElement(mime, data) {
  if (mime === 'image/svg+xml' || (/^image\/(png|jpeg|gif)$/.test(mime) && /^[A-Za-z0-9+/=\s]*$/.test(data))) {
    const img = document.createElement('img');
    img.style.maxWidth = '100%';
    img.src = mime === 'image/svg+xml' ? `data:image/svg+xml;base64,${Buffer.from(data, 'utf8').toString('base64')}` : `data:${mime};base64,${data.replace(/\s/g, '')}`;
    return img;
  }
  if (mime === 'text/html') {
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', '');
    frame.srcdoc = data;
    frame.style.width = '100%';
    frame.style.background = '#fff';
    return frame;
  }
  const pre = document.createElement('pre');
  pre.textContent = `[${mime}, ${data.length} bytes]`;
  return pre;
}

/**
 * askInput shows a modal panel with one input field; it resolves to the
 * text, or to undefined when the user cancels (Escape).
 */
function askInput(prompt, password) {
  return new Promise((resolve) => {
    const box = document.createElement('div');
    const label = document.createElement('label');
    label.textContent = prompt || 'The program reads input';
    const input = document.createElement('input');
    input.type = password ? 'password' : 'text';
    input.classList.add('input-text', 'native-key-bindings');
    input.style.width = '100%';
    box.append(label, input);
    const panel = atom.workspace.addModalPanel({ item: box, visible: true });
    const done = (value) => {
      panel.destroy();
      resolve(value);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') done(input.value);
      else if (e.key === 'Escape') done(undefined);
    });
    input.focus();
  });
}

module.exports = { ResultsView, URI, askInput };
