// A message's images, as the chat view and a share page both show them: each opens whole in a new tab.
import type { MessageImage } from './api';
import { el } from './dom';

/** The images' list (null when there are none); <urlOf> names where each is served. */
export function imagesView(images: readonly MessageImage[] | null | undefined, urlOf: (name: string) => string): HTMLElement | null {
  const all = images ?? [];
  return all.length === 0 ? null : el('div', { className: 'images' }, ...all.map((image, i) => {
    const src = urlOf(image.name);
    return el('a', { attrs: { href: src, target: '_blank', rel: 'noopener' } }, el('img', {
      attrs: { src, alt: `Image ${i + 1} of ${all.length}`, width: String(image.width), height: String(image.height), loading: 'lazy' },
    }));
  }));
}
