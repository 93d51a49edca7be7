// Bundles the dashboard: src/index.html with uPlot's CSS and src/app.css inlined, and
// assets/app.js = uPlot (minified IIFE, pinned by package-lock.json) + the ES modules of src/, linked
// from src/main.js into one script (see link.mjs).
// Usage: node build.mjs --src src --uplot node_modules/uplot --out dist
// The server's Content-Security-Policy forbids inline scripts, hence the separate script file.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { link } from './link.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = { src: join(here, 'src'), uplot: join(here, 'node_modules', 'uplot'), out: join(here, 'dist') };
for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '');
    if (!(key in args) || process.argv[i + 1] === undefined) {
        console.error(`usage: node build.mjs [--src DIR] [--uplot DIR] [--out DIR] (bad argument ${process.argv[i]})`);
        process.exit(2);
    }
    args[key] = resolve(process.argv[i + 1]);
}

const read = (p) => readFileSync(p, 'utf8');
const uplotPkg = JSON.parse(read(join(args.uplot, 'package.json')));
const uplotJs = read(join(args.uplot, 'dist', 'uPlot.iife.min.js'));
const uplotCss = read(join(args.uplot, 'dist', 'uPlot.min.css'));
const appJs = link(args.src, 'main.js');
const appCss = read(join(args.src, 'app.css'));
let html = read(join(args.src, 'index.html'));

if (!html.includes('<!-- @STYLE@ -->'))
    throw new Error('src/index.html lacks the <!-- @STYLE@ --> marker');
if (/<\/style/i.test(uplotCss + appCss))
    throw new Error('CSS must not contain </style');
html = html.replace('<!-- @STYLE@ -->', () =>
    `<style>\n/* uPlot ${uplotPkg.version} (MIT) */\n${uplotCss}\n${appCss}</style>`);
html = html.replace(/@UPLOT_VERSION@/g, uplotPkg.version);

const js = `/* uPlot ${uplotPkg.version} — MIT License, (c) Leon Sorokin — https://github.com/leeoniya/uPlot */\n`
    + `${uplotJs}\n;\n/* Runwatch dashboard */\n${appJs}\n`;

// Write only what changed, so that rcc and the link do not rerun for nothing.
function put(path, text) {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path) && read(path) === text) return;
    writeFileSync(path, text);
}
put(join(args.out, 'index.html'), html);
put(join(args.out, 'assets', 'app.js'), js);
console.log(`index.html ${Buffer.byteLength(html)} bytes, assets/app.js ${Buffer.byteLength(js)} bytes (uPlot ${uplotPkg.version})`);
