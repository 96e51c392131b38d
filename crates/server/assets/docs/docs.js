// Taskify API reference: renders the OpenAPI 3.1 document served at /api-docs/openapi.json.
//
// Constraints (the page runs under `Content-Security-Policy: default-src 'self'`):
// - no inline scripts or styles, no style attributes: visibility uses the `hidden` attribute,
//   looks come from classes in docs.css;
// - document text is only ever inserted with textContent / text nodes, never as HTML;
// - no dependencies and no build step.
(function () {
  "use strict";

  var HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  var MAX_DEPTH = 6;

  var spec = null;

  // ------------------------------------------------------------------ DOM helpers

  /** Creates an element. `cls` is a class string or null; children are nodes or strings (as text). */
  function el(tag, cls, children) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    append(node, children);
    return node;
  }

  function append(node, children) {
    if (children === undefined || children === null) return node;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child === undefined || child === null || child === false) return;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child))
        : child);
    });
    return node;
  }

  function link(href, cls, children) {
    var a = el("a", cls, children);
    a.setAttribute("href", href);
    return a;
  }

  /** A safe fragment id from arbitrary text. */
  function slug(prefix, text) {
    return prefix + "-" + String(text).replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  }

  /** Renders text with `code spans` as <code> elements; blank lines start new paragraphs. */
  function prose(text, cls) {
    var wrap = el("div", cls || "prose");
    if (!text) return wrap;
    String(text).split(/\n\s*\n/).forEach(function (para) {
      wrap.appendChild(inlineText(para, "p"));
    });
    return wrap;
  }

  function inlineText(text, tag) {
    var node = el(tag || "span", null);
    String(text).split("`").forEach(function (part, i) {
      if (part === "") return;
      node.appendChild(i % 2 === 1 ? el("code", null, part) : document.createTextNode(part));
    });
    return node;
  }

  // ------------------------------------------------------------------ $ref handling

  /** Resolves a local JSON pointer such as `#/components/schemas/Task`. Returns undefined if absent. */
  function resolvePointer(ref) {
    if (typeof ref !== "string" || ref.charAt(0) !== "#") return undefined;
    var node = spec;
    var parts = ref.slice(1).split("/").slice(1);
    for (var i = 0; i < parts.length; i++) {
      var key = decodeURIComponent(parts[i]).replace(/~1/g, "/").replace(/~0/g, "~");
      if (node === null || typeof node !== "object" || !Object.prototype.hasOwnProperty.call(node, key)) {
        return undefined;
      }
      node = node[key];
    }
    return node;
  }

  function refName(ref) {
    return String(ref).split("/").pop();
  }

  /** Follows $ref chains (for parameters, responses, headers, request bodies). */
  function deref(obj) {
    var seen = 0;
    while (obj && typeof obj === "object" && typeof obj.$ref === "string" && seen < 10) {
      var target = resolvePointer(obj.$ref);
      if (target === undefined) return obj;
      obj = target;
      seen++;
    }
    return obj;
  }

  function isSchemaRef(schema) {
    return schema && typeof schema.$ref === "string" && schema.$ref.indexOf("#/components/schemas/") === 0;
  }

  // ------------------------------------------------------------------ schema description

  function typeList(schema) {
    if (Array.isArray(schema.type)) return schema.type.slice();
    if (typeof schema.type === "string") return [schema.type];
    return [];
  }

  /** True when a schema (after $ref) describes an object with members worth a table. */
  function isObjectLike(schema) {
    schema = deref(schema);
    if (!schema || typeof schema !== "object") return false;
    if (schema.properties || schema.allOf) return true;
    return typeList(schema).indexOf("object") !== -1 && !!schema.additionalProperties && typeof schema.additionalProperties === "object";
  }

  /** A node naming the type of a schema: `string <uuid>`, `array of Task`, `Task`, `string | null`. */
  function typeNode(schema) {
    var wrap = el("span", "type");
    if (!schema || typeof schema !== "object") return append(wrap, "any");
    if (isSchemaRef(schema)) {
      var name = refName(schema.$ref);
      var target = resolvePointer(schema.$ref);
      if (target && !isObjectLike(target)) {
        // A named scalar, array or union (an enum, say): show its shape and link its name.
        append(wrap, [typeNode(target), " ", link("#" + slug("schema", name), "type-ref type-ref-small", name)]);
        return wrap;
      }
      return append(wrap, link("#" + slug("schema", name), "type-ref", name));
    }
    var alternatives = schema.oneOf || schema.anyOf;
    if (alternatives) {
      alternatives.forEach(function (alt, i) {
        if (i > 0) append(wrap, " | ");
        wrap.appendChild(typeNode(alt));
      });
      return wrap;
    }
    if (schema.allOf) {
      var names = schema.allOf.filter(isSchemaRef).map(function (s) { return refName(s.$ref); });
      return append(wrap, names.length ? "object (" + names.join(" + ") + " + …)" : "object");
    }
    var types = typeList(schema);
    if (!types.length) {
      if (schema.properties) types = ["object"];
      else if (schema.items) types = ["array"];
      else if ("const" in schema) types = [typeof schema["const"]];
      else types = ["any"];
    }
    types.forEach(function (t, i) {
      if (i > 0) append(wrap, " | ");
      if (t === "array") {
        append(wrap, "array of ");
        wrap.appendChild(typeNode(schema.items));
      } else {
        append(wrap, t);
      }
    });
    if (schema.format) append(wrap, el("span", "format", " <" + schema.format + ">"));
    return wrap;
  }

  function show(value) {
    return JSON.stringify(value);
  }

  /** Human-readable constraints of a schema (lengths, ranges, enums, patterns, defaults, …). */
  function constraintList(schema) {
    var out = [];
    if (!schema || typeof schema !== "object") return out;
    var s = isSchemaRef(schema) ? Object.assign({}, deref(schema), schema) : schema;
    if (isSchemaRef(schema) && isObjectLike(s)) {
      // Object references are described by their own table; keep only local annotations.
      s = schema;
    }
    function range(min, max, unit) {
      if (min !== undefined && max !== undefined) return (min === max ? String(min) : min + "–" + max) + unit;
      if (min !== undefined) return "≥ " + min + unit;
      return "≤ " + max + unit;
    }
    if (s.minLength !== undefined || s.maxLength !== undefined) out.push("length " + range(s.minLength, s.maxLength, ""));
    if (s.minimum !== undefined || s.maximum !== undefined) out.push("value " + range(s.minimum, s.maximum, ""));
    if (s.exclusiveMinimum !== undefined) out.push("> " + s.exclusiveMinimum);
    if (s.exclusiveMaximum !== undefined) out.push("< " + s.exclusiveMaximum);
    if (s.minItems !== undefined || s.maxItems !== undefined) out.push("items " + range(s.minItems, s.maxItems, ""));
    if (s.uniqueItems) out.push("unique items");
    if (Array.isArray(s["enum"])) out.push("one of: " + s["enum"].map(show).join(", "));
    if ("const" in s) out.push("always " + show(s["const"]));
    if (s.pattern) out.push("pattern " + s.pattern);
    if ("default" in s) out.push("default " + show(s["default"]));
    if (s.additionalProperties === false) out.push("no other members allowed");
    if (s.readOnly) out.push("read-only");
    if (s.writeOnly) out.push("write-only");
    if (s.deprecated) out.push("deprecated");
    if (s.dependentRequired) {
      Object.keys(s.dependentRequired).forEach(function (k) {
        out.push(k + " requires " + s.dependentRequired[k].join(", "));
      });
    }
    if (Array.isArray(s.examples) && s.examples.length) out.push("e.g. " + s.examples.map(show).join(", "));
    return out;
  }

  function constraintsNode(schema) {
    var items = constraintList(schema);
    if (!items.length) return el("span", "muted", "—");
    var ul = el("ul", "constraints");
    items.forEach(function (c) { ul.appendChild(el("li", null, c)); });
    return ul;
  }

  /** Collects the members of an object schema, merging allOf parts. */
  function collectMembers(schema, stack) {
    var props = {};
    var required = [];
    var order = [];
    var extras = [];
    function visit(s) {
      var name = isSchemaRef(s) ? refName(s.$ref) : null;
      if (name && stack.indexOf(name) !== -1) return;
      s = deref(s);
      if (!s || typeof s !== "object") return;
      (s.allOf || []).forEach(visit);
      Object.keys(s.properties || {}).forEach(function (k) {
        if (!(k in props)) order.push(k);
        props[k] = s.properties[k];
      });
      (s.required || []).forEach(function (r) { if (required.indexOf(r) === -1) required.push(r); });
      if (s.additionalProperties === false || s.dependentRequired) extras.push(s);
    }
    visit(schema);
    return { props: props, order: order, required: required, extras: extras };
  }

  /**
   * Renders a schema as a table of members (objects) or a one-line description (scalars, arrays
   * of scalars). Nested object references expand lazily, on demand.
   */
  function schemaView(schema, stack) {
    stack = stack || [];
    var wrap = el("div", "schema");
    if (!schema || typeof schema !== "object") return append(wrap, el("span", "muted", "any"));
    var name = isSchemaRef(schema) ? refName(schema.$ref) : null;
    var resolved = deref(schema);
    if (name) stack = stack.concat([name]);
    if (stack.length > MAX_DEPTH) return append(wrap, el("span", "muted", "…"));

    if (resolved && resolved.description) wrap.appendChild(prose(resolved.description, "prose schema-desc"));

    if (resolved && (resolved.oneOf || resolved.anyOf)) {
      var alts = el("ul", "alternatives");
      (resolved.oneOf || resolved.anyOf).forEach(function (alt) {
        var li = el("li", null, [typeNode(alt), " "]);
        var c = constraintList(alt);
        if (c.length) li.appendChild(el("span", "muted", "(" + c.join("; ") + ")"));
        alts.appendChild(li);
      });
      wrap.appendChild(el("p", "schema-kind", resolved.oneOf ? "One of:" : "Any of:"));
      wrap.appendChild(alts);
      return wrap;
    }

    if (!isObjectLike(resolved)) {
      var line = el("p", "schema-line", [typeNode(resolved)]);
      var cons = constraintList(resolved);
      if (cons.length) append(line, [" ", el("span", "muted", "(" + cons.join("; ") + ")")]);
      wrap.appendChild(line);
      var items = resolved && resolved.items;
      if (items && isObjectLike(items)) wrap.appendChild(nestedSchema(items, stack, "Items"));
      return wrap;
    }

    var members = collectMembers(schema, stack.slice(0, -1));
    members.extras.forEach(function (s) {
      var notes = [];
      if (s.additionalProperties === false) notes.push("No other members are allowed.");
      Object.keys(s.dependentRequired || {}).forEach(function (k) {
        notes.push("`" + k + "` requires " + s.dependentRequired[k].map(function (x) { return "`" + x + "`"; }).join(", ") + ".");
      });
      if (notes.length) wrap.appendChild(prose(notes.join(" "), "prose schema-note"));
    });
    if (!members.order.length) {
      wrap.appendChild(el("p", "muted", "An object with free-form members."));
      return wrap;
    }
    var table = el("table", "fields");
    table.appendChild(el("thead", null, el("tr", null, [
      el("th", null, "Field"), el("th", null, "Type"), el("th", null, "Constraints"), el("th", null, "Description")
    ])));
    var body = el("tbody");
    members.order.forEach(function (prop) {
      var ps = members.props[prop];
      var isRequired = members.required.indexOf(prop) !== -1;
      var nameCell = el("td", "field-name", [el("code", null, prop)]);
      if (isRequired) nameCell.appendChild(el("span", "req", "required"));
      var descCell = el("td", "field-desc");
      var local = ps && ps.description ? ps.description : null;
      if (!local && isSchemaRef(ps)) {
        var target = resolvePointer(ps.$ref);
        if (target && !isObjectLike(target) && target.description) local = target.description;
      }
      if (local) descCell.appendChild(prose(local));
      var nestedTarget = nestedObject(ps);
      if (nestedTarget) descCell.appendChild(nestedSchema(nestedTarget, stack, "Members"));
      body.appendChild(el("tr", null, [nameCell, el("td", null, typeNode(ps)), el("td", null, constraintsNode(ps)), descCell]));
    });
    table.appendChild(body);
    wrap.appendChild(el("div", "table-wrap", table));
    return wrap;
  }

  /** The object schema a member expands into (itself, or its array items), if any. */
  function nestedObject(ps) {
    if (!ps || typeof ps !== "object") return null;
    if (isObjectLike(ps)) return ps;
    var resolved = deref(ps);
    if (resolved && resolved.items && isObjectLike(resolved.items)) return resolved.items;
    return null;
  }

  /** A collapsible nested schema, rendered the first time it is opened. */
  function nestedSchema(schema, stack, label) {
    var name = isSchemaRef(schema) ? refName(schema.$ref) : null;
    if (name && stack.indexOf(name) !== -1) {
      return el("p", "muted", ["See ", link("#" + slug("schema", name), "type-ref", name), " (recursive)."]);
    }
    var details = el("details", "nested");
    details.appendChild(el("summary", null, name ? label + ": " + name : label));
    var rendered = false;
    details.addEventListener("toggle", function () {
      if (details.open && !rendered) {
        rendered = true;
        details.appendChild(schemaView(schema, stack));
      }
    });
    return details;
  }

  // ------------------------------------------------------------------ operations

  function securityText(op) {
    var sec = op.security !== undefined ? op.security : spec.security;
    if (!sec || !sec.length) return { text: "Public", cls: "auth-public" };
    var optional = sec.some(function (req) { return Object.keys(req).length === 0; });
    var names = [];
    sec.forEach(function (req) {
      Object.keys(req).forEach(function (k) { if (names.indexOf(k) === -1) names.push(k); });
    });
    var label = names.map(function (n) {
      var scheme = spec.components && spec.components.securitySchemes && spec.components.securitySchemes[n];
      if (scheme && scheme.type === "http" && scheme.scheme === "bearer") return "Bearer" + (scheme.bearerFormat ? " " + scheme.bearerFormat : "");
      return n;
    }).join(" or ");
    return optional ? { text: label + " (optional)", cls: "auth-optional" } : { text: label, cls: "auth-required" };
  }

  function mergedParameters(pathItem, op) {
    var byKey = {};
    var order = [];
    (pathItem.parameters || []).concat(op.parameters || []).forEach(function (p) {
      var param = deref(p);
      if (!param || !param.name) return;
      var key = param["in"] + ":" + param.name;
      if (!(key in byKey)) order.push(key);
      byKey[key] = param;
    });
    var rank = { path: 0, query: 1, header: 2, cookie: 3 };
    return order.map(function (k) { return byKey[k]; }).sort(function (a, b) {
      var ra = a["in"] in rank ? rank[a["in"]] : 9;
      var rb = b["in"] in rank ? rank[b["in"]] : 9;
      return ra - rb;
    });
  }

  function parametersSection(params) {
    var section = el("section", "op-section");
    section.appendChild(el("h4", null, "Parameters"));
    var table = el("table", "fields");
    table.appendChild(el("thead", null, el("tr", null, [
      el("th", null, "Name"), el("th", null, "In"), el("th", null, "Type"), el("th", null, "Constraints"), el("th", null, "Description")
    ])));
    var body = el("tbody");
    params.forEach(function (p) {
      var nameCell = el("td", "field-name", [el("code", null, p.name)]);
      if (p.required) nameCell.appendChild(el("span", "req", "required"));
      var desc = el("td", "field-desc");
      if (p.description) desc.appendChild(prose(p.description));
      else if (p.schema && isSchemaRef(p.schema)) {
        var target = resolvePointer(p.schema.$ref);
        if (target && target.description) desc.appendChild(prose(target.description));
      }
      body.appendChild(el("tr", null, [
        nameCell, el("td", null, el("span", "param-in param-in-" + (/^[a-z]+$/.test(p["in"]) ? p["in"] : "other"), p["in"])),
        el("td", null, typeNode(p.schema)), el("td", null, constraintsNode(p.schema)), desc
      ]));
    });
    table.appendChild(body);
    section.appendChild(el("div", "table-wrap", table));
    return section;
  }

  function contentBlocks(content) {
    var frag = document.createDocumentFragment();
    Object.keys(content || {}).forEach(function (mediaType) {
      var media = content[mediaType] || {};
      frag.appendChild(el("p", "media", [el("span", "muted", "Content type "), el("code", null, mediaType)]));
      if (media.schema) frag.appendChild(schemaView(media.schema));
    });
    return frag;
  }

  function requestBodySection(rb) {
    rb = deref(rb);
    var section = el("section", "op-section");
    section.appendChild(el("h4", null, ["Request body", rb.required ? el("span", "req", "required") : el("span", "opt", "optional")]));
    if (rb.description) section.appendChild(prose(rb.description));
    section.appendChild(contentBlocks(rb.content));
    return section;
  }

  function statusClass(code) {
    var c = String(code).charAt(0);
    return "status-code status-" + (/[1-5]/.test(c) ? c + "xx" : "other");
  }

  function responsesSection(responses) {
    var section = el("section", "op-section");
    section.appendChild(el("h4", null, "Responses"));
    var list = el("div", "responses");
    Object.keys(responses || {}).sort().forEach(function (code) {
      var raw = responses[code];
      var r = deref(raw) || {};
      var item = el("details", "response");
      var summary = el("summary", null, [el("span", statusClass(code), code), " "]);
      var short = firstSentence(r.description || "");
      summary.appendChild(inlineText(short, "span"));
      item.appendChild(summary);
      var inner = el("div", "response-body");
      if (r.description && r.description.trim() !== short.trim()) inner.appendChild(prose(r.description));
      var headerNames = Object.keys(r.headers || {});
      if (headerNames.length) {
        var dl = el("dl", "headers");
        headerNames.forEach(function (h) {
          var header = deref(r.headers[h]) || {};
          dl.appendChild(el("dt", null, el("code", null, h)));
          var dd = el("dd", null);
          if (header.description) dd.appendChild(inlineText(header.description, "span"));
          dl.appendChild(dd);
        });
        inner.appendChild(el("p", "label", "Headers"));
        inner.appendChild(dl);
      }
      if (r.content) inner.appendChild(contentBlocks(r.content));
      else inner.appendChild(el("p", "muted", "No body."));
      item.appendChild(inner);
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  }

  function firstSentence(text) {
    var m = /^(.*?\.)(\s|$)/.exec(String(text));
    return m ? m[1] : String(text);
  }

  function operationView(path, method, pathItem, op) {
    var id = slug("op", op.operationId || method + "-" + path);
    var details = el("details", "op op-" + method);
    details.id = id;
    details.setAttribute("data-filter", [method, path, op.summary || "", op.operationId || ""].join(" ").toLowerCase());
    var auth = securityText(op);
    var summary = el("summary", "op-summary", [
      el("span", "method method-" + method, method.toUpperCase()),
      el("code", "path", path),
      el("span", "op-title", op.summary || ""),
      el("span", "auth " + auth.cls, auth.text)
    ]);
    details.appendChild(summary);

    var body = el("div", "op-body");
    var rendered = false;
    // Operation bodies are built on first open: the page stays light even for large documents.
    details.addEventListener("toggle", function () {
      if (!details.open || rendered) return;
      rendered = true;
      if (op.description) body.appendChild(prose(op.description));
      var meta = el("dl", "meta");
      function metaRow(label, value) {
        meta.appendChild(el("dt", null, label));
        meta.appendChild(el("dd", null, value));
      }
      metaRow("Operation", el("code", null, op.operationId || "—"));
      metaRow("Authentication", auth.text);
      if (op["x-permission"]) metaRow("Permission", el("code", null, op["x-permission"]));
      if (op["x-rate-limit-class"]) metaRow("Rate-limit class", el("code", null, op["x-rate-limit-class"]));
      body.appendChild(meta);
      var params = mergedParameters(pathItem, op);
      if (params.length) body.appendChild(parametersSection(params));
      if (op.requestBody) body.appendChild(requestBodySection(op.requestBody));
      body.appendChild(responsesSection(op.responses));
      var anchor = link("#" + id, "permalink", "Link to this operation");
      body.appendChild(el("p", "permalink-row", anchor));
    });
    details.appendChild(body);
    return details;
  }

  // ------------------------------------------------------------------ page

  function collectOperations() {
    var groups = {};
    var order = [];
    (spec.tags || []).forEach(function (t) { groups[t.name] = []; order.push(t.name); });
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = deref(spec.paths[path]) || {};
      HTTP_METHODS.forEach(function (m) {
        var op = item[m];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "Other";
        if (!groups[tag]) { groups[tag] = []; order.push(tag); }
        groups[tag].push({ path: path, method: m, item: item, op: op });
      });
    });
    return order.filter(function (t) { return groups[t].length; }).map(function (t) {
      var meta = (spec.tags || []).filter(function (x) { return x.name === t; })[0] || {};
      return { name: t, description: meta.description, ops: groups[t] };
    });
  }

  function overview() {
    var info = spec.info || {};
    var section = el("section", "overview");
    section.appendChild(el("h1", null, info.title || "API"));
    if (info.summary) section.appendChild(el("p", "lead", info.summary));
    if (info.description) section.appendChild(prose(info.description));
    var facts = el("dl", "meta");
    function fact(label, value) {
      facts.appendChild(el("dt", null, label));
      facts.appendChild(el("dd", null, value));
    }
    if (info.version) fact("Version", info.version);
    if (spec.servers && spec.servers.length) {
      fact("Servers", spec.servers.map(function (s) { return s.url; }).join(", "));
    }
    var schemes = (spec.components && spec.components.securitySchemes) || {};
    Object.keys(schemes).forEach(function (k) {
      var s = schemes[k];
      var text = s.type === "http" ? "HTTP " + s.scheme + (s.bearerFormat ? " (" + s.bearerFormat + ")" : "") : s.type;
      fact("Security: " + k, el("span", null, [text + ". ", inlineText(s.description || "", "span")]));
    });
    if (info.license && info.license.name) fact("Licence", info.license.name);
    section.appendChild(facts);
    return section;
  }

  function schemasSection() {
    var schemas = (spec.components && spec.components.schemas) || {};
    var names = Object.keys(schemas);
    var section = el("section", "tag-section");
    section.id = "schemas";
    section.appendChild(el("h2", null, "Schemas"));
    names.forEach(function (name) {
      var details = el("details", "schema-item");
      details.id = slug("schema", name);
      details.setAttribute("data-filter", ("schema " + name).toLowerCase());
      details.appendChild(el("summary", null, el("code", null, name)));
      var rendered = false;
      details.addEventListener("toggle", function () {
        if (details.open && !rendered) {
          rendered = true;
          details.appendChild(schemaView({ $ref: "#/components/schemas/" + name }));
        }
      });
      section.appendChild(details);
    });
    return section;
  }

  function render() {
    var info = spec.info || {};
    document.title = (info.title || "API") + " reference";
    document.getElementById("doc-title").textContent = info.title || "API";
    var version = document.getElementById("doc-version");
    if (info.version) { version.textContent = "v" + info.version; version.hidden = false; }
    var oas = document.getElementById("doc-oas");
    if (spec.openapi) { oas.textContent = "OpenAPI " + spec.openapi; oas.hidden = false; }

    var content = document.getElementById("content");
    var nav = document.getElementById("nav");
    content.textContent = "";
    nav.textContent = "";
    content.appendChild(overview());

    collectOperations().forEach(function (group) {
      var tagId = slug("tag", group.name);
      var section = el("section", "tag-section");
      section.id = tagId;
      section.appendChild(el("h2", null, group.name));
      if (group.description) section.appendChild(prose(group.description));
      var navGroup = el("div", "nav-group");
      navGroup.appendChild(link("#" + tagId, "nav-tag", group.name));
      var navList = el("ul", "nav-ops");
      group.ops.forEach(function (entry) {
        var view = operationView(entry.path, entry.method, entry.item, entry.op);
        section.appendChild(view);
        var li = el("li", null, link("#" + view.id, "nav-op", [
          el("span", "method method-small method-" + entry.method, entry.method.toUpperCase()),
          el("span", "nav-path", entry.path)
        ]));
        li.setAttribute("data-target", view.id);
        navList.appendChild(li);
      });
      navGroup.appendChild(navList);
      nav.appendChild(navGroup);
      content.appendChild(section);
    });

    content.appendChild(schemasSection());
    var schemaNav = el("div", "nav-group");
    schemaNav.appendChild(link("#schemas", "nav-tag", "Schemas"));
    nav.appendChild(schemaNav);

    openFromHash();
  }

  // ------------------------------------------------------------------ interaction

  function openFromHash() {
    var id;
    try {
      id = decodeURIComponent(location.hash.slice(1));
    } catch (e) {
      return;
    }
    if (!id) return;
    var target = document.getElementById(id);
    if (!target) return;
    if (target.tagName === "DETAILS") target.open = true;
    target.scrollIntoView();
  }

  function applyFilter(query) {
    query = query.trim().toLowerCase();
    var terms = query ? query.split(/\s+/) : [];
    function matches(node) {
      var hay = node.getAttribute("data-filter") || "";
      return terms.every(function (t) { return hay.indexOf(t) !== -1; });
    }
    document.querySelectorAll("details.op, details.schema-item").forEach(function (d) {
      d.hidden = !matches(d);
    });
    document.querySelectorAll(".tag-section").forEach(function (section) {
      var items = section.querySelectorAll("details.op, details.schema-item");
      var visible = Array.prototype.some.call(items, function (d) { return !d.hidden; });
      section.hidden = terms.length > 0 && !visible;
    });
    document.querySelectorAll("#nav li[data-target]").forEach(function (li) {
      var target = document.getElementById(li.getAttribute("data-target"));
      li.hidden = !!(target && target.hidden);
    });
    document.querySelectorAll("#nav .nav-group").forEach(function (group) {
      var lis = group.querySelectorAll("li");
      if (!lis.length) return;
      group.hidden = !Array.prototype.some.call(lis, function (li) { return !li.hidden; });
    });
    var overviewSection = document.querySelector(".overview");
    if (overviewSection) overviewSection.hidden = terms.length > 0;
  }

  function setAll(open) {
    document.querySelectorAll("details.op").forEach(function (d) {
      if (!d.hidden) d.open = open;
    });
  }

  function showError(message) {
    var content = document.getElementById("content");
    content.textContent = "";
    content.appendChild(el("p", "status status-error", message));
  }

  function start() {
    var url = document.body.getAttribute("data-spec-url") || "/api-docs/openapi.json";
    document.getElementById("filter").addEventListener("input", function (e) { applyFilter(e.target.value); });
    document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
    document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });
    window.addEventListener("hashchange", openFromHash);

    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status + " " + res.statusText);
        return res.json();
      })
      .then(function (doc) {
        if (!doc || typeof doc !== "object" || !doc.paths) throw new Error("the document has no paths");
        spec = doc;
        render();
      })
      .catch(function (err) {
        showError("Could not load the API description from " + url + ": " + (err && err.message ? err.message : String(err)));
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
