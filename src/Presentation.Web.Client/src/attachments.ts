// Images to send with the next message: taken by paste, drop or the file picker and shown as thumbnails, each with a
// remove button, until sent. They go as data: URLs; the server reads and checks them as /v1 does (type from the bytes,
// size caps) and names the image it refuses.
import { byId, el, show } from './dom';
import { banner } from './notices';

const Types = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
/** The server's default cap (Api:OpenAi:MaxImagesPerMessage); it refuses more anyway, naming the image. */
const MaxImages = 4;

const $ = {
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('input'),
  list: byId<HTMLUListElement>('attachments'),
  pick: byId<HTMLButtonElement>('attach'),
  file: byId<HTMLInputElement>('attach-file'),
};

let pending: string[] = [];

/** The images to send with the message being sent; the composer holds none after. */
export function takeAttachments(): string[] {
  const taken = pending;
  pending = [];
  render();
  return taken;
}

/** Puts back images of a message that could not be sent. */
export function restoreAttachments(images: string[]): void {
  pending = [...images, ...pending];
  render();
}

export function setAttachable(attachable: boolean): void {
  $.pick.disabled = !attachable;
}

async function add(files: File[]): Promise<void> {
  for (const file of files) {
    if (!Types.includes(file.type)) {
      banner(`${file.name || 'That file'} is not a PNG, JPEG, WebP or GIF image.`);
    } else if (pending.length >= MaxImages) {
      banner(`A message holds at most ${MaxImages} images.`);
      break;
    } else {
      pending.push(await dataUrl(file));
    }
  }
  render();
}

function dataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error ?? new Error('The image could not be read.'));
    reader.readAsDataURL(file);
  });
}

function render(): void {
  $.list.replaceChildren(...pending.map((url, i) => {
    const remove = el('button', { className: 'small remove', text: '×', attrs: { type: 'button', 'aria-label': `Remove image ${i + 1}` } });
    remove.addEventListener('click', () => {
      pending.splice(i, 1);
      render();
      $.input.focus();
    });
    return el('li', {}, el('img', { attrs: { src: url, alt: `Image ${i + 1} to send` } }), remove);
  }));
  show($.list, pending.length > 0);
}

export function wireAttachments(): void {
  $.pick.addEventListener('click', () => $.file.click());
  $.file.addEventListener('change', () => {
    const files = [...($.file.files ?? [])];
    $.file.value = '';
    void add(files);
  });
  // A pasted image comes as a file; pasted text goes into the box as usual.
  $.input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length > 0) void add(files);
  });
  // Dropped anywhere on the open chat: a file dropped elsewhere would make the browser leave the app to show it.
  const dropping = (e: DragEvent) => Boolean(e.dataTransfer?.types.includes('Files')) && !$.pick.disabled && $.composer.offsetParent !== null;
  document.addEventListener('dragover', (e) => {
    if (dropping(e)) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    if (!dropping(e)) return;
    e.preventDefault();
    void add([...(e.dataTransfer?.files ?? [])]);
  });
}
