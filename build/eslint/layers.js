// keyhold/layers: every import is resolved to the layer it lands in, and each
// layer has an allow-list, as VS Code's `local/code-layering` rule does. The
// rule names layers, not path spellings: `../main/router.js` from a core file
// resolves to electron/main and is refused because main is not on core's list,
// however the path is written. The layer table itself is data, passed as the
// rule's options from eslint.config.js; docs/architecture.md ("Layers")
// explains each entry.
//
// What is checked, for every static import, re-export, `import()`, `require()`
// and `import x = require()` / `import('x')` type (type-only imports too: a type
// import still ties one layer to another's internals):
// - a relative path: the layer of the file it resolves to must be on the
//   importer's `allow` list, and it must stay inside the importer's own
//   workspace package (another package is reached by its name, through its
//   `exports`, never by path);
// - a workspace package name (`keyhold-format`): its layer must be allowed, and
//   a subpath must be one the package exports; `entries` gives an exported
//   subpath a layer of its own (`keyhold-format/text`, the pure part);
// - a Node builtin (`fs`, `node:fs/promises`): `node` says all, none, or all but
//   the network modules;
// - `electron`: `electron` says all, none, or only the listed named imports;
// - any other package: `packages` is either 'any' or an
//   allow-list (subpaths of a listed package are allowed); a network package
//   (`network`) is refused wherever `node` is not 'all'.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

/** Posix path of `file` relative to `root`, or null when it is outside `root`. */
function repoPath(root, file) {
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

function underDir(rel, dir) {
  return dir === '' || rel === dir || rel.startsWith(`${dir}/`);
}

/** A path without its script extension: `./errors.js` in an import is format/src/errors.ts on disk. */
const stem = (p) => p.replace(/\.(?:d\.ts|[cm]?[jt]sx?)$/, '');

/** The first layer whose `files` entry matches; entries are folders, files, or `re:` regular expressions. */
function layerOf(layers, rel) {
  if (rel === null) return null;
  return layers.find((l) => l.files.some((f) => (f.startsWith('re:') ? new RegExp(f.slice(3)).test(rel) : underDir(stem(rel), stem(f))))) ?? null;
}

/** The workspace package (its folder, '' for the app at the root) that holds `rel`. */
function packageDirOf(workspaces, rel) {
  return Object.values(workspaces).find((dir) => underDir(rel, dir)) ?? '';
}

/** `node:fs/promises` -> `fs`; `@scope/pkg/sub` -> `@scope/pkg`. */
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function nodeBuiltin(spec) {
  if (spec.startsWith('node:')) return packageName(spec.slice(5));
  return BUILTINS.has(spec) || BUILTINS.has(packageName(spec)) ? packageName(spec) : null;
}

/** The subpaths a workspace package exports ('.' always); read from its package.json when it exists. */
function exportedSubpaths(root, dir) {
  const file = path.join(root, dir, 'package.json');
  if (!existsSync(file)) return new Set(['.']);
  const { exports } = JSON.parse(readFileSync(file, 'utf8'));
  if (exports === undefined || typeof exports === 'string' || Array.isArray(exports)) return new Set(['.']);
  const keys = Object.keys(exports);
  return new Set(keys.some((k) => k.startsWith('.')) ? keys : ['.']);
}

const listOf = (items) => (items.length === 0 ? 'nothing' : items.join(', '));

/** @type {import('eslint').Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Each layer imports only the layers, Node modules and packages on its allow-list (docs/architecture.md, "Layers").' },
    schema: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['root', 'layers'],
        properties: {
          root: { type: 'string' },
          workspaces: { type: 'object', additionalProperties: { type: 'string' } },
          entries: { type: 'object', additionalProperties: { type: 'string' } },
          network: { type: 'array', items: { type: 'string' } },
          layers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'files', 'why'],
              properties: {
                name: { type: 'string' },
                files: { type: 'array', items: { type: 'string' } },
                why: { type: 'string' },
                anything: { type: 'boolean' },
                allow: { type: 'array', items: { type: 'string' } },
                node: { enum: ['all', 'none', 'no-network'] },
                electron: { oneOf: [{ enum: ['all', 'none'] }, { type: 'array', items: { type: 'string' } }] },
                packages: { oneOf: [{ enum: ['any'] }, { type: 'array', items: { type: 'string' } }] },
              },
            },
          },
        },
      },
    ],
    messages: {
      layer: "{{from}} may not import {{to}} ('{{spec}}'). {{why}} {{from}} may import: {{allowed}}.",
      noLayer: "'{{spec}}' resolves to {{target}}, which is in no layer; {{from}} may import only: {{allowed}}.",
      internals:
        "'{{spec}}' reaches into the {{pkg}} package's files by path. Import it by its package name '{{name}}': its exports are its API, and it is built and resolved on its own.",
      subpath: "'{{spec}}' is not something the {{name}} package exports ({{exported}}). Import '{{name}}' itself.",
      node: "{{from}} may not import Node's '{{spec}}'. {{why}}",
      network: "{{from}} may not import the network module '{{spec}}': it never opens a network connection (the workstation is air-gapped). {{why}}",
      electron: "{{from}} may not import '{{spec}}'. {{why}}",
      electronName: "{{from}} may take only {{names}} from 'electron', not {{name}}. {{why}}",
      package: "{{from}} may not import the package '{{spec}}'. {{why}} Packages {{from}} may import: {{allowed}}.",
    },
  },

  create(context) {
    const options = context.options[0];
    const root = options.root;
    const layers = options.layers;
    const workspaces = options.workspaces ?? {};
    const entries = options.entries ?? {};
    const network = new Set(options.network ?? []);
    const rel = repoPath(root, context.physicalFilename ?? context.filename);
    const from = layerOf(layers, rel);
    if (from === null || from.anything === true) return {};

    const allow = new Set([from.name, ...(from.allow ?? [])]);
    const allowedText = [...allow].join(', ');
    const fromPackage = packageDirOf(workspaces, rel);
    const dir = path.dirname(path.join(root, rel));
    const packageList = from.packages ?? 'any';
    const electronRule = from.electron ?? 'none';
    const node = from.node ?? 'none';
    const base = { from: from.name, why: from.why };

    function checkLayer(node_, spec, to) {
      if (allow.has(to.name)) return true;
      context.report({ node: node_, messageId: 'layer', data: { ...base, to: to.name, spec, allowed: allowedText } });
      return false;
    }

    function checkRelative(node_, spec) {
      const target = repoPath(root, path.resolve(dir, spec.replace(/[?#].*$/, '')));
      const to = layerOf(layers, target);
      if (to === null) {
        context.report({ node: node_, messageId: 'noLayer', data: { ...base, spec, target: target ?? 'a file outside the repository', allowed: allowedText } });
        return;
      }
      if (!checkLayer(node_, spec, to)) return;
      const toPackage = packageDirOf(workspaces, target);
      if (toPackage !== fromPackage) {
        const name = Object.keys(workspaces).find((n) => workspaces[n] === toPackage) ?? 'the app';
        context.report({ node: node_, messageId: 'internals', data: { spec, pkg: toPackage === '' ? 'app' : `${toPackage}/`, name } });
      }
    }

    function checkWorkspace(node_, spec, name) {
      const pkgDir = workspaces[name];
      const to = Object.hasOwn(entries, spec) ? (layers.find((l) => l.name === entries[spec]) ?? null) : layerOf(layers, `${pkgDir}/package.json`);
      if (to !== null && !checkLayer(node_, spec, to)) return;
      const sub = spec === name ? '.' : `.${spec.slice(name.length)}`;
      const exported = exportedSubpaths(root, pkgDir);
      if (!exported.has(sub)) context.report({ node: node_, messageId: 'subpath', data: { spec, name, exported: listOf([...exported]) } });
    }

    function checkElectron(node_, spec, names) {
      if (electronRule === 'all') return;
      if (electronRule === 'none' || spec !== 'electron') {
        context.report({ node: node_, messageId: 'electron', data: { ...base, spec } });
        return;
      }
      // Only named imports can be checked against the list: a default or
      // namespace import, `import()` or `require()` takes everything.
      for (const name of names ?? ['everything']) {
        if (!electronRule.includes(name)) {
          context.report({ node: node_, messageId: 'electronName', data: { ...base, name, names: listOf(electronRule) } });
        }
      }
    }

    function check(node_, spec, names) {
      if (typeof spec !== 'string') return;
      if (spec.startsWith('.') || spec.startsWith('/')) return checkRelative(node_, spec);
      const builtin = nodeBuiltin(spec);
      if (builtin !== null) {
        if (node === 'none') context.report({ node: node_, messageId: 'node', data: { ...base, spec } });
        else if (node === 'no-network' && network.has(builtin)) context.report({ node: node_, messageId: 'network', data: { ...base, spec } });
        return;
      }
      const name = packageName(spec);
      if (name === 'electron') return checkElectron(node_, spec, names);
      if (Object.hasOwn(workspaces, name)) return checkWorkspace(node_, spec, name);
      if (network.has(name) && node !== 'all') {
        context.report({ node: node_, messageId: 'network', data: { ...base, spec } });
        return;
      }
      if (packageList !== 'any' && !packageList.includes(name)) {
        context.report({ node: node_, messageId: 'package', data: { ...base, spec, allowed: listOf(packageList) } });
      }
    }

    /** The names an import declaration takes, or undefined when it takes the whole module. */
    function importedNames(decl) {
      const names = [];
      for (const s of decl.specifiers ?? []) {
        if (s.type !== 'ImportSpecifier' && s.type !== 'ExportSpecifier') return undefined;
        const id = s.type === 'ImportSpecifier' ? s.imported : s.local;
        names.push(id.type === 'Identifier' ? id.name : String(id.value));
      }
      return decl.type === 'ExportAllDeclaration' ? undefined : names;
    }

    const literal = (n) => (n && n.type === 'Literal' ? n.value : n && n.type === 'TemplateLiteral' && n.expressions.length === 0 ? n.quasis[0].value.cooked : undefined);

    return {
      ImportDeclaration: (n) => check(n.source, n.source.value, importedNames(n)),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value, importedNames(n)),
      ExportAllDeclaration: (n) => check(n.source, n.source.value, undefined),
      ImportExpression: (n) => check(n.source, literal(n.source), undefined),
      TSImportType: (n) => {
        // typescript-eslint 8 has `source`; `argument` (a TSLiteralType) is its deprecated older form.
        const arg = n.source ?? (n.argument?.type === 'TSLiteralType' ? n.argument.literal : n.argument);
        check(n, literal(arg), undefined);
      },
      TSExternalModuleReference: (n) => check(n.expression, literal(n.expression), undefined),
      CallExpression: (n) => {
        if (n.callee.type === 'Identifier' && n.callee.name === 'require' && n.arguments.length === 1) check(n.arguments[0], literal(n.arguments[0]), undefined);
      },
    };
  },
};

export default { meta: { name: 'keyhold' }, rules: { layers: layersRule } };
