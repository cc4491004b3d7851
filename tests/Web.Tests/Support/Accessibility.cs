using Microsoft.Playwright;

namespace MeatLizard.Web.Tests.Support;

/// <summary>
/// Checks a screen the way a keyboard or screen-reader user meets it: every control has a name in words, the tab
/// order, and the WCAG 2.1 contrast ratio of every piece of text against what is actually behind it.
/// </summary>
public static class Accessibility
{
    /// <summary>Visible controls whose accessible name is empty or has no letter in it (an icon alone).</summary>
    public static async Task<IReadOnlyList<string>> UnnamedControlsAsync(IPage page) =>
        await page.EvaluateAsync<string[]>(@"() => {
            const name = e => {
                const by = e.getAttribute('aria-labelledby');
                if (by) return by.split(/\s+/).map(id => document.getElementById(id)?.textContent ?? '').join(' ').trim();
                if (e.getAttribute('aria-label')) return e.getAttribute('aria-label').trim();
                if (e.labels && e.labels.length) return [...e.labels].map(l => l.textContent).join(' ').trim();
                if (e.matches('button, a, summary, [role=button]')) return (e.textContent ?? '').trim() || (e.getAttribute('title') ?? '');
                return e.getAttribute('title') ?? '';
            };
            return [...document.querySelectorAll('button, a[href], input, textarea, select, summary, [role=button], [tabindex]:not([tabindex=""-1""])')]
                .filter(e => e.checkVisibility({ visibilityProperty: true }))
                .filter(e => !/\p{L}/u.test(name(e)))
                .map(e => e.outerHTML.slice(0, 160));
        }");

    /// <summary>
    /// Text whose contrast with its background is below WCAG AA (4.5:1, or 3:1 for large text). The background is
    /// composed from the element's ancestors' colours as the browser paints them; disabled controls are exempt.
    /// </summary>
    public static async Task<IReadOnlyList<string>> LowContrastTextAsync(IPage page) =>
        await page.EvaluateAsync<string[]>(@"() => {
            const parse = c => {
                const m = /rgba?\(([^)]+)\)/.exec(c);
                if (!m) return null;
                const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(v => v.endsWith('%') ? parseFloat(v) / 100 : Number(v));
                return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
            };
            const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
            const background = e => {
                const layers = [];
                for (let n = e; n; n = n.parentElement) {
                    const c = parse(getComputedStyle(n).backgroundColor);
                    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
                }
                let color = [255, 255, 255, 1];
                for (const layer of layers.reverse()) color = over(layer, color);
                return color;
            };
            const luminance = c => {
                const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
            const low = [];
            let checked = 0;
            for (const e of document.querySelectorAll('body *')) {
                if (!e.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
                if (e.closest(':disabled, .sr-only, .skip')) continue;
                const ownText = [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
                const fieldText = e.matches('input:not([type=checkbox]), textarea') && e.value;
                if (!ownText && !fieldText) continue;
                checked++;
                const style = getComputedStyle(e);
                const bg = background(e);
                const value = ratio(over(parse(style.color), bg), bg);
                const size = parseFloat(style.fontSize);
                const need = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700) ? 3 : 4.5;
                if (value < need) {
                    const text = (ownText ? e.textContent : e.value).trim().slice(0, 40);
                    low.push(`${value.toFixed(2)} < ${need}: <${e.tagName.toLowerCase()} class='${e.className}'> '${text}' ${style.color} on rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`);
                }
            }
            if (checked < 5) low.push(`only ${checked} text elements found: the page is not showing what the test expects`);
            return low;
        }");

    /// <summary>What Tab reaches, in order, from <paramref name="start"/> on: each element's id, else its name.</summary>
    public static async Task<IReadOnlyList<string>> TabOrderAsync(IPage page, string start, int max = 40)
    {
        await page.Locator(start).FocusAsync();
        var order = new List<string>();
        for (var i = 0; i < max; i++)
        {
            var current = await page.EvaluateAsync<string>(@"() => {
                const e = document.activeElement;
                if (!e || e === document.body) return '';
                return e.id || e.getAttribute('aria-label') || e.textContent.trim();
            }");
            if (current.Length == 0 || order.Contains(current))
            {
                break;
            }

            order.Add(current);
            await page.Keyboard.PressAsync("Tab");
        }

        return order;
    }
}
