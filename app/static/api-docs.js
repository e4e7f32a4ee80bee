// The API reference: renders /api/v1/openapi.json (shipped with the app, no CDN).
(function () {
  "use strict";
  var box = document.getElementById("operations");

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function resolve(spec, schema) {
    if (schema && schema.$ref) {
      return spec.components.schemas[schema.$ref.split("/").pop()];
    }
    return schema;
  }

  function fieldsTable(spec, schema) {
    schema = resolve(spec, schema) || {};
    var table = el("table");
    var head = el("tr");
    head.appendChild(el("th", "Field"));
    head.appendChild(el("th", "Type"));
    table.appendChild(head);
    Object.keys(schema.properties || {}).forEach(function (name) {
      var prop = schema.properties[name];
      var row = el("tr");
      row.appendChild(el("td", name));
      row.appendChild(el("td", prop.type || (prop.$ref ? prop.$ref.split("/").pop() : "object")));
      table.appendChild(row);
    });
    return table;
  }

  fetch(box.getAttribute("data-spec"))
    .then(function (response) { return response.json(); })
    .then(function (spec) {
      box.textContent = "";
      Object.keys(spec.paths).forEach(function (path) {
        Object.keys(spec.paths[path]).forEach(function (method) {
          var op = spec.paths[path][method];
          var section = el("section");
          var title = el("h2");
          var verb = el("span", method.toUpperCase());
          verb.className = "method";
          title.appendChild(verb);
          title.appendChild(el("code", spec.servers[0].url + path));
          section.appendChild(title);
          section.appendChild(el("p", op.summary));
          (op.parameters || []).forEach(function (p) {
            section.appendChild(el("p", p["in"] + " parameter: " + p.name + (p.required ? " (required)" : "")));
          });
          if (op.requestBody) {
            section.appendChild(el("p", "Body (JSON):"));
            section.appendChild(fieldsTable(spec, op.requestBody.content["application/json"].schema));
          }
          box.appendChild(section);
        });
      });
    })
    .catch(function () { box.textContent = "The API document could not be loaded."; });
})();
