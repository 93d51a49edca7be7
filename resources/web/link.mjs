// Links the dashboard's ES modules (src/*.js) into one classic script: the page loads a single
// /assets/app.js, as the server's Content-Security-Policy allows no inline script.
//
// It understands the part of module syntax the dashboard uses, each at the start of a line, and
// refuses anything else with an error that names the file and the line:
//   import { a, b as c } from './file.js';      (a file next to the importer; may span lines)
//   export function f…  export async function f…  export class C…  export const X = …
//   export { a, b as c };
// Every module becomes a function scope run once, the modules it imports first, as ES modules are
// evaluated. What a module exports never changes after its scope has run (functions, classes and
// consts; `export let` is refused), so handing the values to the importers is the same as ES modules'
// live bindings. Import cycles are refused: a module that needs something from a module above it is
// given it by main.js.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';

const ID = '[A-Za-z_$][\\w$]*';
const IMPORT = /^import\s*\{([^}]*)\}\s*from\s*'\.\/([\w.-]+\.js)';[ \t]*$/gm;
const EXPORT_DECL = new RegExp(`^export\\s+((?:async\\s+)?function\\b\\s*\\*?\\s*|class\\s+|const\\s+)(${ID})(?![\\w$])`, 'gm');
const EXPORT_LIST = /^export\s*\{([^}]*)\};[ \t]*$/gm;
const SPECIFIER = new RegExp(`^(${ID})(?:\\s+as\\s+(${ID}))?$`);

class LinkError extends Error {}

function lineOf(text, index) { return text.slice(0, index).split('\n').length; }

// "a, b as c" -> [['a', 'a'], ['b', 'c']]: [name in the exporting module's list, name on this side].
function specifiers(list, where) {
    return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
        const m = SPECIFIER.exec(s.replace(/\s+/g, ' '));
        if (!m) throw new LinkError(`${where}: cannot read "${s}"`);
        return [m[1], m[2] || m[1]];
    });
}

function parse(dir, file) {
    const where = (i, of = text) => `src/${file}:${lineOf(of, i)}`;
    let text;
    try { text = readFileSync(join(dir, file), 'utf8'); } catch (e) { throw new LinkError(`src/${file}: ${e.message}`); }
    const imports = [];   // { file, names: [[exported, local]] }
    const exports = new Map();   // exported name -> local name
    const addExport = (name, local, at) => {
        if (exports.has(name)) throw new LinkError(`${at}: "${name}" is exported twice`);
        exports.set(name, local);
    };
    let body = text.replace(IMPORT, (all, list, from, i) => {
        const names = specifiers(list, where(i));
        imports.push({ file: from, names, line: where(i) });
        // As many lines as before, so that line numbers in errors match the file.
        return `const { ${names.map(([name, local]) => (name === local ? name : `${name}: ${local}`)).join(', ')} } = ${scopeName(from)};`
            + '\n'.repeat(all.split('\n').length - 1);
    });
    body = body.replace(EXPORT_DECL, (all, kind, name, i, whole) => {
        addExport(name, name, where(i, whole));
        return all.replace(/^export\s+/, '');
    });
    body = body.replace(EXPORT_LIST, (all, list, i, whole) => {
        for (const [local, name] of specifiers(list, where(i, whole))) addExport(name, local, where(i, whole));
        return '\n'.repeat(all.split('\n').length - 1);
    });
    const rest = /^(import|export)\b.*$/m.exec(body);
    if (rest) {
        const hint = /^export\s+(let|var)\b/.test(rest[0])
            ? ' (an exported binding must not change: export a const, or a function that reads it)'
            : ' (supported: import { … } from \'./file.js\'; export function|class|const NAME; export { … };)';
        throw new LinkError(`${where(rest.index, body)}: cannot link "${rest[0].trim()}"${hint}`);
    }
    return { file, imports, exports, body };
}

function scopeName(file) { return 'module_' + file.replace(/\.js$/, '').replace(/[^\w$]/g, '_'); }

// The modules reachable from `entry`, each after the modules it imports.
function load(dir, entry) {
    const done = new Map();
    const order = [];
    const path = [];
    const visit = (file) => {
        if (done.has(file)) return done.get(file);
        if (path.includes(file)) throw new LinkError(`import cycle: ${[...path.slice(path.indexOf(file)), file].join(' -> ')}`);
        path.push(file);
        const m = parse(dir, file);
        for (const imp of m.imports) {
            const dep = visit(imp.file);
            for (const [name] of imp.names)
                if (!dep.exports.has(name)) throw new LinkError(`${imp.line}: src/${imp.file} does not export "${name}"`);
        }
        path.pop();
        done.set(file, m);
        order.push(m);
        return m;
    };
    visit(entry);
    const names = new Map();
    for (const m of order) {
        const scope = scopeName(m.file);
        if (names.has(scope)) throw new LinkError(`src/${m.file} and src/${names.get(scope)} need different names`);
        names.set(scope, m.file);
    }
    return order;
}

// One script that runs the modules of `dir`, starting from `entry`, in order.
export function link(dir, entry) {
    const order = load(dir, entry);
    const linked = new Set(order.map((m) => m.file));
    const stray = readdirSync(dir).filter((f) => f.endsWith('.js') && !linked.has(f));
    if (stray.length) throw new LinkError(`not imported by ${entry} (directly or through other modules): ${stray.map((f) => 'src/' + f).join(', ')}`);
    const parts = order.map((m) => {
        const list = [...m.exports].map(([name, local]) => (name === local ? name : `${name}: ${local}`));
        const scope = m.file === entry ? '' : `const ${scopeName(m.file)} = `;
        const result = m.file === entry ? '' : `return Object.freeze({ ${list.join(', ')} });\n`;
        return `// ---- src/${m.file}\n${scope}(() => {\n${m.body.replace(/\s*$/, '\n')}${result}})();\n`;
    });
    // Modules are strict code; the directive must open a function body to count (this script follows uPlot's).
    const js = `(() => {\n'use strict';\n\n${parts.join('\n')}})();`;
    try { new vm.Script(js, { filename: 'assets/app.js' }); } catch (e) { throw new LinkError(`the linked script does not compile: ${e.message}`); }
    return js;
}
