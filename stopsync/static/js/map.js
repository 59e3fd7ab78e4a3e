/* stopsync map page: ATLAS platforms, OSM stop elements and the links between them.
 *
 * Settings and the translated interface strings come from data-* attributes on #map (the CSP
 * allows no inline script). Every string from the API is untrusted: popups, chips and lists
 * are built with DOM APIs and textContent, never with innerHTML.
 *
 * The view (centre, zoom, filters, open stop) lives in the query string, so that every view
 * can be shared as a link; the page restores it on load.
 */
(function () {
  "use strict";

  var MOVE_DEBOUNCE_MS = 300;
  var TILE_ATTRIBUTION =
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var OSM_BASE = "https://www.openstreetmap.org/";
  var ATLAS_BASE = "https://atlas.app.sbb.ch/service-point-directory/service-points/";
  var JOSM_BASE = "http://127.0.0.1:8111/load_object?objects=";
  var OSM_ID_PATTERN = /^(node|way|relation)\/(\d+)$/;
  var ROUTE_QUERY = /^(route|line|linie|ligne|linea)\s+\S+/i;
  // Below this zoom the page asks the API for a clustered overview (when the API has one).
  var DEFAULT_STOPS_MIN_ZOOM = 14;
  var MAX_POPUP_LINKS = 4;
  var TOP_OPERATORS = 12;
  var URL_VIEW_KEYS = ["lat", "lon", "z", "stop"];
  // Details can be long (up to four links): the popup scrolls instead of leaving the map.
  var POPUP_OPTIONS = { maxWidth: 420, minWidth: 260, maxHeight: 460 };

  var container = document.getElementById("map");
  if (!container || typeof L === "undefined") {
    return;
  }
  var statusBox = document.getElementById("map-status");
  var countsBox = document.getElementById("map-counts");

  var settings = {
    apiBase: container.dataset.apiBase || "/api/v1",
    stopsUrl: container.dataset.stopsUrl || "/api/v1/stops",
    stopsLimit: Number(container.dataset.stopsLimit) || 2000,
    boundariesUrl: container.dataset.boundariesUrl || "",
    helpUrl: container.dataset.helpUrl || "/help/problems",
    tileUrl: container.dataset.tileUrl || "",
    locale: container.dataset.locale || "en",
    initialBounds: parseBbox(container.dataset.initialBbox || "5.95,45.81,10.50,47.81"),
  };

  /* ---------- translations and numbers ---------- */

  var STRINGS = {};
  try {
    STRINGS = JSON.parse(container.dataset.i18n || "{}");
  } catch (error) {
    window.console.warn("stopsync: interface strings not readable:", error);
  }

  // t("counts", {atlas: 3}) -> the translated string with {atlas} filled in.
  function t(key, params) {
    var text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
      });
    }
    return text;
  }

  // A label for a data value that has one (method, kind, problem type), else the value itself.
  function labelOf(prefix, value) {
    var key = prefix + value;
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : String(value);
  }

  var numberFormat = makeFormat({});
  var percentFormat = makeFormat({ style: "percent", maximumFractionDigits: 1 });
  var metreFormat = makeFormat({ maximumFractionDigits: 1, minimumFractionDigits: 1 });

  function makeFormat(options) {
    try {
      return new Intl.NumberFormat(settings.locale, options);
    } catch (error) {
      return new Intl.NumberFormat("en", options);
    }
  }

  function formatNumber(value) {
    return numberFormat.format(value);
  }

  // Colours live in app.css (custom properties --state-*) so markers and legend cannot drift
  // apart; the fallbacks only matter if the stylesheet failed to load.
  var rootStyle = window.getComputedStyle(document.documentElement);
  var COLOURS = {};
  [
    ["atlas-linked", "#1a7f37"],
    ["atlas-unmatched", "#d1242f"],
    ["osm-linked", "#0969da"],
    ["osm-unmatched", "#bf8700"],
    ["station", "#8250df"],
    ["link", "#57606a"],
    ["unit", "#8250df"],
  ].forEach(function (entry) {
    COLOURS[entry[0]] = rootStyle.getPropertyValue("--state-" + entry[0]).trim() || entry[1];
  });

  /* ---------- helpers ---------- */

  function parseBbox(text) {
    var parts = text.split(",").map(Number);
    if (parts.length !== 4 || parts.some(isNaN)) {
      parts = [5.95, 45.81, 10.5, 47.81];
    }
    // bbox is minLon,minLat,maxLon,maxLat; Leaflet wants [lat, lon] corners.
    return L.latLngBounds([parts[1], parts[0]], [parts[3], parts[2]]);
  }

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function bboxParam(bounds) {
    return [
      clamp(bounds.getWest(), -180, 180),
      clamp(bounds.getSouth(), -90, 90),
      clamp(bounds.getEast(), -180, 180),
      clamp(bounds.getNorth(), -90, 90),
    ]
      .map(function (value) {
        return value.toFixed(6);
      })
      .join(",");
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function externalLink(href, label, className) {
    var anchor = element("a", className || null, label);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function parseOsmId(osmId) {
    var match = OSM_ID_PATTERN.exec(String(osmId || ""));
    return match ? { type: match[1], id: match[2] } : null;
  }

  function isBlank(value) {
    return value === undefined || value === null || value === "";
  }

  function getJson(url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: "application/json" } }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return null;
        })
        .then(function (body) {
          if (!response.ok || !body) {
            var error = new Error(
              body && body.message ? body.message : "HTTP " + response.status
            );
            error.status = response.status;
            throw error;
          }
          return body;
        });
    });
  }

  /* ---------- editor links ---------- */

  function osmLinks(osmId) {
    var parsed = parseOsmId(osmId);
    if (!parsed) {
      return [];
    }
    return [
      externalLink(OSM_BASE + parsed.type + "/" + parsed.id, t("osm_page")),
      externalLink(OSM_BASE + "edit?editor=id&" + parsed.type + "=" + parsed.id, t("edit_id")),
      josmLink(parsed),
    ];
  }

  // JOSM remote control: a background request, so the page stays where it is.
  function josmLink(parsed) {
    var href = JOSM_BASE + parsed.type.charAt(0) + parsed.id;
    var anchor = element("a", "josm-link", t("edit_josm"));
    anchor.href = href;
    anchor.addEventListener("click", function (event) {
      event.preventDefault();
      var note = anchor.parentNode && anchor.parentNode.querySelector(".josm-note");
      if (!note) {
        note = element("span", "josm-note");
        note.setAttribute("role", "status");
        anchor.parentNode.appendChild(note);
      }
      note.textContent = "";
      // JOSM answers without CORS headers in older versions; an opaque answer still means
      // that it received the request.
      fetch(href, { mode: "no-cors", cache: "no-store" })
        .then(function () {
          note.className = "josm-note is-ok";
          note.textContent = t("josm_sent");
        })
        .catch(function () {
          note.className = "josm-note is-error";
          note.textContent = t("josm_failed");
        });
    });
    return anchor;
  }

  function atlasLink(number) {
    if (isBlank(number)) {
      return null;
    }
    return externalLink(
      ATLAS_BASE + encodeURIComponent(String(number)) + "/traffic-point-elements",
      t("atlas_page")
    );
  }

  /* ---------- status messages ---------- */

  function showStatus(kind, text) {
    if (!statusBox) {
      return;
    }
    statusBox.className = "map-status is-" + kind;
    statusBox.textContent = text;
    statusBox.hidden = false;
  }

  function clearStatus() {
    if (statusBox) {
      statusBox.hidden = true;
      statusBox.textContent = "";
      statusBox.className = "map-status";
    }
  }

  /* ---------- filters (state, URL, chips) ---------- */

  // One group per API filter parameter. Values are ORed within a group, groups are ANDed
  // (the API's semantics). ``matched`` with both values is no filter at all.
  var FILTER_GROUPS = [
    { key: "method", label: "group_method", prefix: "method_", options: [] },
    { key: "matched", label: "group_matched", options: ["true", "false"] },
    { key: "operator", label: "group_operator", prefix: "", options: [], free: true },
    { key: "kind", label: "group_kind", prefix: "kind_", options: ["platform", "stop_position", "station"] },
    {
      key: "problem_type",
      label: "group_problem_type",
      prefix: "problem_",
      options: [
        "distance",
        "attributes",
        "unmatched_atlas",
        "unmatched_osm",
        "duplicate_atlas",
        "duplicate_osm",
        "route_contradiction",
      ],
    },
    { key: "priority", label: "group_priority", prefix: "priority_", options: ["1", "2", "3"] },
  ];
  var GROUPS_BY_KEY = {};
  FILTER_GROUPS.forEach(function (group) {
    GROUPS_BY_KEY[group.key] = group;
  });

  function valueLabel(group, value) {
    if (group.key === "matched") {
      return value === "true" ? t("state_linked") : t("state_unmatched");
    }
    return group.prefix ? labelOf(group.prefix, value) : String(value);
  }

  var filters = {};
  FILTER_GROUPS.forEach(function (group) {
    filters[group.key] = [];
  });

  function splitValues(raw) {
    var seen = {};
    return String(raw || "")
      .split(",")
      .map(function (part) {
        return part.trim();
      })
      .filter(function (part) {
        if (!part || seen[part]) {
          return false;
        }
        seen[part] = true;
        return true;
      });
  }

  // The API's filter parameters for the current filters.
  function filterParams() {
    var params = new URLSearchParams();
    FILTER_GROUPS.forEach(function (group) {
      var values = filters[group.key];
      if (!values.length) {
        return;
      }
      if (group.key === "matched") {
        if (values.length === 1) {
          params.set("matched", values[0]);
        }
        return;
      }
      params.set(group.key, values.join(","));
    });
    return params;
  }

  function filtersActive() {
    return FILTER_GROUPS.some(function (group) {
      return filters[group.key].length > 0;
    });
  }

  function withParams(url, params) {
    var query = params.toString();
    return query ? url + (url.indexOf("?") >= 0 ? "&" : "?") + query : url;
  }

  /* ---------- the URL: read once on load, rewritten on every change ---------- */

  var initialUrl = new URLSearchParams(window.location.search);
  FILTER_GROUPS.forEach(function (group) {
    var values = splitValues(initialUrl.get(group.key));
    if (group.options.length && !group.free && group.key !== "method") {
      values = values.filter(function (value) {
        return group.options.indexOf(value) >= 0;
      });
    }
    filters[group.key] = values;
  });
  var selectedStop = initialUrl.get("stop") || null;

  function initialView() {
    var lat = parseFloat(initialUrl.get("lat"));
    var lon = parseFloat(initialUrl.get("lon"));
    var zoom = parseInt(initialUrl.get("z"), 10);
    if (isFinite(lat) && isFinite(lon) && isFinite(zoom) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      return { center: L.latLng(lat, lon), zoom: clamp(zoom, 5, 19) };
    }
    return null;
  }

  function writeUrl() {
    // Other parameters (such as ``lang``) are kept as they are.
    var params = new URLSearchParams(window.location.search);
    URL_VIEW_KEYS.concat(
      FILTER_GROUPS.map(function (group) {
        return group.key;
      })
    ).forEach(function (key) {
      params.delete(key);
    });
    var center = map.getCenter();
    params.set("lat", center.lat.toFixed(5));
    params.set("lon", center.lng.toFixed(5));
    params.set("z", String(map.getZoom()));
    FILTER_GROUPS.forEach(function (group) {
      if (filters[group.key].length) {
        params.set(group.key, filters[group.key].join(","));
      }
    });
    if (selectedStop) {
      params.set("stop", selectedStop);
    }
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    updateLanguageLinks(params);
  }

  // The language switcher keeps the current view: its links carry the same query string.
  function updateLanguageLinks(params) {
    Array.prototype.forEach.call(document.querySelectorAll(".language-switcher a[data-lang]"), function (link) {
      var own = new URLSearchParams(params.toString());
      own.set("lang", link.dataset.lang);
      link.href = window.location.pathname + "?" + own.toString();
    });
  }

  /* ---------- popups ---------- */

  function popupShell(title, kindLabel) {
    var root = element("div", "stop-popup");
    root.appendChild(element("h3", null, title || t("no_name")));
    root.appendChild(element("p", "popup-kind", kindLabel));
    return root;
  }

  function appendFacts(root, facts) {
    var list = element("dl");
    facts.forEach(function (fact) {
      var value = fact[1];
      if (isBlank(value)) {
        return;
      }
      list.appendChild(element("dt", null, fact[0]));
      if (value instanceof Node) {
        var cell = element("dd");
        cell.appendChild(value);
        list.appendChild(cell);
      } else {
        list.appendChild(element("dd", null, value));
      }
    });
    root.appendChild(list);
  }

  function appendLinks(root, links) {
    var row = element("p", "popup-links");
    links.forEach(function (link) {
      if (link) {
        row.appendChild(link);
      }
    });
    if (row.childNodes.length) {
      root.appendChild(row);
    }
  }

  // One line per linked OSM element: its id (links to openstreetmap.org) and an iD link.
  function linkedElementsList(osmIds) {
    if (!osmIds.length) {
      return null;
    }
    var list = element("ul", "popup-linked");
    osmIds.forEach(function (osmId) {
      var item = element("li");
      var links = osmLinks(osmId);
      if (links.length) {
        links[0].textContent = osmId;
        links[1].textContent = "iD";
        item.appendChild(links[0]);
        item.appendChild(document.createTextNode(" · "));
        item.appendChild(links[1]);
      } else {
        item.textContent = String(osmId);
      }
      list.appendChild(item);
    });
    return list;
  }

  function osmKindLabel(kind) {
    var key = "osm_" + (kind || "element");
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : t("osm_element");
  }

  function detailsSlot(root, stopId) {
    var slot = element("div", "popup-details");
    slot.dataset.stopId = stopId;
    root.appendChild(slot);
    return root;
  }

  function atlasPopup(props, linkedOsmIds) {
    var root = popupShell(props.name, t("atlas_platform"));
    appendFacts(root, [
      ["SLOID", props.id],
      [t("service_point"), props.number],
      [t("designation"), props.designation],
      [t("operator"), props.operator],
      [t("matched"), props.matched ? t("yes") : t("no")],
      [t("linked_to"), linkedElementsList(linkedOsmIds)],
    ]);
    appendLinks(root, [atlasLink(props.number)]);
    return detailsSlot(root, props.id);
  }

  function osmPopup(props) {
    var root = popupShell(props.name, osmKindLabel(props.kind));
    appendFacts(root, [
      [t("osm_id"), props.id],
      ["uic_ref", props.uic_ref],
      ["local_ref", props.local_ref],
      [t("matched"), props.matched ? t("yes") : t("no")],
    ]);
    appendLinks(root, osmLinks(props.id));
    return detailsSlot(root, props.id);
  }

  function linkPopup(props) {
    var root = popupShell(props.sloid, t("link"));
    var distance =
      typeof props.distance_m === "number" ? metreFormat.format(props.distance_m) + " m" : null;
    appendFacts(root, [
      ["SLOID", props.sloid],
      [t("osm_id"), props.osm_id],
      [t("method"), labelOf("method_", props.method)],
      [t("distance"), distance],
    ]);
    appendLinks(root, osmLinks(props.osm_id));
    return detailsSlot(root, props.sloid);
  }

  /* ---------- stop details (both sides, evidence, problems) ---------- */

  var detailsCache = {};

  function loadDetails(stopId) {
    if (!detailsCache[stopId]) {
      detailsCache[stopId] = getJson(settings.apiBase + "/stops/" + stopId).catch(function (error) {
        delete detailsCache[stopId];
        throw error;
      });
    }
    return detailsCache[stopId];
  }

  function normalise(value) {
    return String(value || "")
      .trim()
      .toLowerCase();
  }

  // The attributes compared across the two sides: label, ATLAS value, OSM value.
  function comparedAttributes(atlas, osm) {
    var tags = osm.tags || {};
    return [
      [t("name"), atlas.name, tags.uic_name || osm.name],
      [t("uic_number"), atlas.number, osm.uic_ref || tags.uic_ref],
      [t("platform_code"), atlas.designation, osm.local_ref || tags.local_ref],
      [t("operator"), atlas.operator, tags.operator],
    ];
  }

  function comparisonTable(atlas, osm) {
    var table = element("table", "popup-compare");
    var head = element("tr");
    [t("attribute"), t("atlas"), t("osm")].forEach(function (label) {
      head.appendChild(element("th", null, label));
    });
    var thead = element("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = element("tbody");
    comparedAttributes(atlas, osm).forEach(function (row) {
      var line = element("tr");
      var different = !isBlank(row[1]) && !isBlank(row[2]) && normalise(row[1]) !== normalise(row[2]);
      if (different) {
        line.className = "is-different";
        line.title = t("differs");
      }
      line.appendChild(element("th", null, row[0]));
      line.appendChild(element("td", null, isBlank(row[1]) ? "–" : row[1]));
      line.appendChild(element("td", null, isBlank(row[2]) ? "–" : row[2]));
      body.appendChild(line);
    });
    table.appendChild(body);
    return table;
  }

  function evidenceText(evidence) {
    return Object.keys(evidence || {})
      .sort()
      .map(function (key) {
        var value = evidence[key];
        return key + ": " + (typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
      })
      .join("; ");
  }

  // The other side's editor links (the popup's own stop has its links at the top).
  function linkSection(link, atlas, osm, focusId) {
    var section = element("section", "popup-link");
    section.dataset.osmId = link.osm_id;
    section.appendChild(element("h4", null, (atlas.id || link.sloid) + " ↔ " + link.osm_id));
    if (atlas && osm) {
      section.appendChild(comparisonTable(atlas, osm));
    }
    appendFacts(section, [
      [t("distance"), typeof link.distance_m === "number" ? metreFormat.format(link.distance_m) + " m" : null],
      [t("method"), labelOf("method_", link.method)],
      [t("score"), typeof link.score === "number" ? formatNumber(link.score) : null],
      [t("evidence"), evidenceText(link.evidence) || null],
    ]);
    if (osm && osm.id !== focusId) {
      appendLinks(section, osmLinks(osm.id));
    } else if (atlas && atlas.id !== focusId) {
      appendLinks(section, [atlasLink(atlas.number)]);
    }
    return section;
  }

  function problemsSection(problems) {
    var section = element("section", "popup-problems");
    section.appendChild(element("h4", null, t("problems")));
    if (!problems.length) {
      section.appendChild(element("p", "popup-none", t("no_problems")));
      return section;
    }
    var list = element("ul");
    problems.forEach(function (problem) {
      var item = element("li", "problem-priority-" + problem.priority);
      var title = externalLink(
        settings.helpUrl + "/" + encodeURIComponent(problem.type),
        labelOf("problem_", problem.type)
      );
      title.removeAttribute("target");
      item.appendChild(title);
      item.appendChild(element("span", "problem-priority", " (" + t("priority_n", { n: problem.priority }) + ")"));
      if (problem.side_reason) {
        item.appendChild(element("span", "problem-reason", problem.side_reason));
      }
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  }

  // Route tokens, from the details' ``routes`` when the API sends them, else from evidence.
  function routesOf(details) {
    var routes = [];
    function add(value) {
      (Array.isArray(value) ? value : [value]).forEach(function (route) {
        var text = typeof route === "object" && route !== null ? JSON.stringify(route) : String(route);
        if (text && routes.indexOf(text) < 0) {
          routes.push(text);
        }
      });
    }
    if (Array.isArray(details.routes)) {
      add(details.routes);
    }
    (details.links || []).concat(details.problems || []).forEach(function (item) {
      Object.keys(item.evidence || {}).forEach(function (key) {
        if (/route/i.test(key)) {
          add(item.evidence[key]);
        }
      });
    });
    return routes;
  }

  function unitsSection(units) {
    var grouped = units.filter(function (unit) {
      return unit.kind === "pair" || unit.kind === "trio";
    });
    if (!grouped.length) {
      return null;
    }
    var section = element("section", "popup-units");
    section.appendChild(element("h4", null, t("unit")));
    var list = element("ul");
    grouped.forEach(function (unit) {
      list.appendChild(element("li", null, labelOf("unit_", unit.kind) + ": " + unit.members.join(", ")));
    });
    section.appendChild(list);
    return section;
  }

  function renderDetails(slot, details, focusId) {
    slot.textContent = "";
    var atlasById = {};
    (details.atlas || []).forEach(function (item) {
      atlasById[item.id] = item;
    });
    var osmById = {};
    (details.osm || []).forEach(function (item) {
      osmById[item.id] = item;
    });
    var links = (details.links || []).filter(function (link) {
      return link.sloid === focusId || link.osm_id === focusId || details.id === focusId;
    });
    if (links.length) {
      var heading = element("h4", "popup-section-title", t("comparison"));
      slot.appendChild(heading);
      links.slice(0, MAX_POPUP_LINKS).forEach(function (link) {
        slot.appendChild(linkSection(link, atlasById[link.sloid] || {}, osmById[link.osm_id], focusId));
      });
    }
    var units = unitsSection(details.units || []);
    if (units) {
      slot.appendChild(units);
    }
    slot.appendChild(problemsSection(details.problems || []));
    var routes = routesOf(details);
    if (routes.length) {
      var routeSection = element("section", "popup-routes");
      routeSection.appendChild(element("h4", null, t("routes")));
      routeSection.appendChild(element("p", null, routes.join(", ")));
      slot.appendChild(routeSection);
    }
    drawUnits(details);
  }

  function fillDetails(popup) {
    var root = popup.getElement();
    var slot = root && root.querySelector(".popup-details");
    if (!slot || slot.dataset.loaded) {
      return;
    }
    var stopId = slot.dataset.stopId;
    slot.dataset.loaded = "loading";
    slot.appendChild(element("p", "popup-loading", t("details_loading")));
    loadDetails(stopId)
      .then(function (details) {
        renderDetails(slot, details, stopId);
        slot.dataset.loaded = "done";
        popup.update();
      })
      .catch(function () {
        slot.textContent = "";
        slot.appendChild(element("p", "popup-error", t("details_failed")));
        slot.dataset.loaded = "failed";
      });
  }

  /* ---------- map ---------- */

  var map = L.map(container, { preferCanvas: false, minZoom: 5, maxZoom: 19 });
  map.attributionControl.addAttribution(
    'ATLAS: <a href="https://opentransportdata.swiss/">opentransportdata.swiss</a>'
  );

  // Layer order, bottom to top: boundaries, links, OSM elements, ATLAS platforms.
  [
    ["boundaries", 350],
    ["links", 410],
    ["osm", 420],
    ["atlas", 430],
    ["clusters", 440],
  ].forEach(function (pane) {
    map.createPane(pane[0]).style.zIndex = String(pane[1]);
  });
  map.getPane("boundaries").style.pointerEvents = "none";

  // The outlines are generalised for country-wide maps; close up they would mislead.
  var BOUNDARIES_MAX_ZOOM = 11;
  function toggleBoundaries() {
    map.getPane("boundaries").style.display = map.getZoom() > BOUNDARIES_MAX_ZOOM ? "none" : "";
  }
  map.on("zoomend", toggleBoundaries);

  var baseLayers = {};
  if (settings.tileUrl) {
    // Tiles are a nice-to-have: offline they fail quietly and the data layers still work.
    baseLayers.OpenStreetMap = L.tileLayer(settings.tileUrl, {
      maxZoom: 19,
      attribution: TILE_ATTRIBUTION,
    }).addTo(map);
  }

  var boundaryLayer = L.layerGroup().addTo(map);
  var linkLayer = L.layerGroup().addTo(map);
  var unitLayer = L.layerGroup().addTo(map);
  var osmLayer = L.layerGroup().addTo(map);
  var atlasLayer = L.layerGroup().addTo(map);
  var clusterLayer = L.layerGroup().addTo(map);
  var overlays = {};
  overlays[t("layer_atlas")] = atlasLayer;
  overlays[t("layer_osm")] = osmLayer;
  overlays[t("layer_links")] = linkLayer;
  overlays[t("layer_boundaries")] = boundaryLayer;
  L.control.layers(baseLayers, overlays).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  var restored = initialView();
  if (restored) {
    map.setView(restored.center, restored.zoom);
  } else {
    map.fitBounds(settings.initialBounds);
  }
  toggleBoundaries();

  // A marker's state names both its legend colour and its CSS classes (used by the tests).
  function markerState(props) {
    if (props.layer === "osm" && props.kind === "station") {
      return "station";
    }
    return props.layer + "-" + (props.matched ? "linked" : "unmatched");
  }

  function markerStyle(props) {
    var state = markerState(props);
    var atlas = props.layer === "atlas";
    return {
      className: "stop-marker stop-" + props.layer + " is-" + state.replace(/^(atlas|osm)-/, ""),
      pane: atlas ? "atlas" : "osm",
      radius: atlas ? 6 : state === "station" ? 7 : 5,
      color: "#ffffff",
      weight: atlas ? 1.5 : 1,
      fillColor: COLOURS[state],
      fillOpacity: atlas ? 0.95 : 0.9,
    };
  }

  function latLngOf(coordinates) {
    return L.latLng(coordinates[1], coordinates[0]);
  }

  function watchPopup(layer, stopId) {
    layer.on("popupopen", function (event) {
      selectedStop = stopId;
      writeUrl();
      fillDetails(event.popup);
    });
    layer.on("popupclose", function () {
      if (selectedStop === stopId) {
        selectedStop = null;
        unitLayer.clearLayers();
        writeUrl();
      }
    });
    return layer;
  }

  function createLayer(feature, linkedOsmIds) {
    var props = feature.properties;
    var geometry = feature.geometry;
    if (props.layer === "link") {
      var line = L.polyline(geometry.coordinates.map(latLngOf), {
        className: "stop-link",
        pane: "links",
        color: COLOURS.link,
        weight: 2,
        dashArray: "4 4",
      }).bindPopup(
        builtOnce(function () {
          return linkPopup(props);
        }),
        POPUP_OPTIONS
      );
      return watchPopup(line, props.sloid);
    }
    var marker = L.circleMarker(latLngOf(geometry.coordinates), markerStyle(props));
    // Leaflet treats string content as HTML: hand it a text-only element instead.
    marker.bindTooltip(element("span", null, props.name || props.id || ""));
    marker.bindPopup(
      builtOnce(function () {
        return props.layer === "atlas" ? atlasPopup(props, linkedOsmIds) : osmPopup(props);
      }),
      POPUP_OPTIONS
    );
    return watchPopup(marker, props.id);
  }

  // Popup content built on first open and kept: ``popup.update()`` (after the details arrive)
  // asks for the content again and must get the same element back, details included.
  function builtOnce(build) {
    var built = null;
    return function () {
      built = built || build();
      return built;
    };
  }

  function featureKey(props) {
    return props.layer === "link" ? "link:" + props.sloid + "|" + props.osm_id : props.layer + ":" + props.id;
  }

  function isDrawable(feature) {
    var props = feature && feature.properties;
    var geometry = feature && feature.geometry;
    if (!props || !geometry || !Array.isArray(geometry.coordinates)) {
      return false;
    }
    if (props.layer === "link") {
      return geometry.type === "LineString";
    }
    return geometry.type === "Point" && (props.layer === "atlas" || props.layer === "osm");
  }

  // Drawn layers by feature key. Redraws keep unchanged layers so that an open popup survives
  // the reload its own auto-pan triggers, and markers do not flicker while panning.
  var drawnLayers = {};
  var groups = { atlas: atlasLayer, osm: osmLayer, link: linkLayer };

  function drawFeatures(features) {
    clusterLayer.clearLayers();
    var drawable = features.filter(isDrawable);
    var linkedBySloid = {};
    drawable.forEach(function (feature) {
      var props = feature.properties;
      if (props.layer === "link") {
        (linkedBySloid[props.sloid] = linkedBySloid[props.sloid] || []).push(props.osm_id);
      }
    });

    var next = {};
    var counts = { atlas: 0, osm: 0, link: 0 };
    drawable.forEach(function (feature) {
      var props = feature.properties;
      var key = featureKey(props);
      if (next[key]) {
        return;
      }
      var linked = props.layer === "atlas" ? linkedBySloid[props.id] || [] : [];
      var signature = JSON.stringify([feature.geometry, props, linked]);
      var previous = drawnLayers[key];
      if (previous && previous.signature === signature) {
        next[key] = previous;
      } else {
        if (previous) {
          groups[previous.group].removeLayer(previous.layer);
        }
        var layer = createLayer(feature, linked);
        groups[props.layer].addLayer(layer);
        next[key] = { layer: layer, signature: signature, group: props.layer };
      }
      counts[props.layer] += 1;
    });
    Object.keys(drawnLayers).forEach(function (key) {
      if (!next[key]) {
        groups[drawnLayers[key].group].removeLayer(drawnLayers[key].layer);
      }
    });
    drawnLayers = next;

    if (countsBox) {
      countsBox.textContent = t("counts", {
        atlas: formatNumber(counts.atlas),
        osm: formatNumber(counts.osm),
        links: formatNumber(counts.link),
      });
    }
    openPendingStop();
    return counts.atlas + counts.osm + counts.link;
  }

  function clearStops() {
    Object.keys(drawnLayers).forEach(function (key) {
      groups[drawnLayers[key].group].removeLayer(drawnLayers[key].layer);
    });
    drawnLayers = {};
  }

  // Pair/trio connectors of the open stop: its unit's members, joined in member order.
  function drawUnits(details) {
    unitLayer.clearLayers();
    var positions = {};
    (details.osm || []).forEach(function (item) {
      positions[item.id] = L.latLng(item.lat, item.lon);
    });
    (details.units || []).forEach(function (unit) {
      if (unit.kind !== "pair" && unit.kind !== "trio") {
        return;
      }
      var points = unit.members
        .map(function (member) {
          var drawn = drawnLayers["osm:" + member];
          return positions[member] || (drawn && drawn.layer.getLatLng ? drawn.layer.getLatLng() : null);
        })
        .filter(Boolean);
      if (points.length >= 2) {
        L.polyline(points, {
          className: "stop-unit",
          pane: "links",
          color: COLOURS.unit,
          weight: 3,
          opacity: 0.8,
          interactive: false,
        }).addTo(unitLayer);
      }
    });
  }

  /* ---------- clusters (the API's overview for low zooms) ---------- */

  function clusterClass(states) {
    var unmatched = (states.atlas_unmatched || 0) + (states.osm_unmatched || 0);
    var total = unmatched + (states.atlas_matched || 0) + (states.osm_matched || 0);
    var share = total ? unmatched / total : 0;
    return share > 0.5 ? "is-mostly-unmatched" : share > 0.1 ? "is-mixed" : "is-mostly-linked";
  }

  function drawClusters(overview) {
    clearStops();
    unitLayer.clearLayers();
    clusterLayer.clearLayers();
    overview.clusters.forEach(function (cluster) {
      var label = element("span", null, formatNumber(cluster.count));
      var size = Math.round(clamp(18 + 6 * Math.log10(cluster.count + 1) * 2, 20, 48));
      var icon = L.divIcon({
        html: label,
        className: "stop-cluster " + clusterClass(cluster.states || {}),
        iconSize: [size, size],
      });
      var marker = L.marker([cluster.lat, cluster.lon], {
        icon: icon,
        pane: "clusters",
        title: t("cluster_title", { count: formatNumber(cluster.count) }),
        keyboard: true,
      });
      marker.on("click", function () {
        var box = cluster.bbox;
        map.fitBounds(L.latLngBounds([box[1], box[0]], [box[3], box[2]]), { maxZoom: map.getZoom() + 3 });
      });
      clusterLayer.addLayer(marker);
    });
    if (countsBox) {
      countsBox.textContent = t("cluster_counts", {
        count: formatNumber(overview.total),
        clusters: formatNumber(overview.clusters.length),
      });
    }
  }

  /* ---------- loading ---------- */

  var currentRequest = null;
  var debounceTimer = null;
  var overviewAvailable = true;
  var stopsMinZoom = DEFAULT_STOPS_MIN_ZOOM;

  function viewShowsAllOfSwitzerland() {
    return map.getBounds().pad(0.01).contains(settings.initialBounds);
  }

  function errorText(response, body) {
    if (body && typeof body.message === "string" && body.message) {
      return t("load_failed_message", { message: body.message });
    }
    return t("load_failed_http", { status: response.status });
  }

  function fetchStops(signal, bbox) {
    var params = filterParams();
    params.set("bbox", bbox);
    return fetch(withParams(settings.stopsUrl, params), {
      signal: signal,
      headers: { Accept: "application/geo+json, application/json" },
    })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          throw error;
        }
        throw new Error(t("load_unreachable"));
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (!response.ok || !body || !Array.isArray(body.features)) {
              throw new Error(errorText(response, body));
            }
            return { kind: "stops", body: body };
          });
      });
  }

  // The overview when the view holds more stops than one answer of /stops may carry; null to
  // load the stops themselves (zoomed in, few stops, or an API without an overview).
  function fetchOverview(signal, bbox) {
    var zoom = Math.round(map.getZoom());
    if (!overviewAvailable || zoom >= stopsMinZoom) {
      return Promise.resolve(null);
    }
    var params = filterParams();
    params.set("bbox", bbox);
    params.set("zoom", String(zoom));
    return getJson(withParams(settings.apiBase + "/overview", params), signal).then(
      function (overview) {
        if (typeof overview.stops_min_zoom === "number") {
          stopsMinZoom = overview.stops_min_zoom;
        }
        if (!Array.isArray(overview.clusters) || overview.total <= settings.stopsLimit) {
          return null;
        }
        return { kind: "clusters", body: overview };
      },
      function (error) {
        if (error && error.name === "AbortError") {
          throw error;
        }
        if (error && error.status === 404) {
          overviewAvailable = false; // an API without /overview: stay with plain stops
        }
        return null;
      }
    );
  }

  function loadStops() {
    if (currentRequest) {
      currentRequest.abort();
    }
    var controller = new AbortController();
    currentRequest = controller;
    var bbox = bboxParam(map.getBounds());
    container.setAttribute("aria-busy", "true");

    fetchOverview(controller.signal, bbox)
      .then(function (clustered) {
        return clustered || fetchStops(controller.signal, bbox);
      })
      .then(function (answer) {
        if (controller !== currentRequest) {
          return;
        }
        if (answer.kind === "clusters") {
          drawClusters(answer.body);
          showStatus("notice", t("clustered", { count: formatNumber(answer.body.total) }));
          return;
        }
        var collection = answer.body;
        var drawn = drawFeatures(collection.features);
        if (collection.truncated) {
          var limit = typeof collection.limit === "number" ? formatNumber(collection.limit) : "?";
          showStatus("notice", t("truncated", { limit: limit }));
        } else if (drawn === 0 && filtersActive()) {
          showStatus("empty", t("no_match_filters"));
        } else if (drawn === 0 && viewShowsAllOfSwitzerland()) {
          showStatus("empty", t("no_data"));
        } else if (drawn === 0) {
          showStatus("empty", t("no_stops"));
        } else {
          clearStatus();
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          return;
        }
        if (controller === currentRequest) {
          showStatus("error", error && error.message ? error.message : t("load_failed"));
        }
      })
      .then(function () {
        if (controller === currentRequest) {
          container.removeAttribute("aria-busy");
          currentRequest = null;
        }
      });
  }

  function scheduleLoad() {
    window.clearTimeout(debounceTimer);
    debounceTimer = window.setTimeout(loadStops, MOVE_DEBOUNCE_MS);
  }

  map.on("moveend", function () {
    writeUrl();
    scheduleLoad();
  });

  /* ---------- focusing one stop (search results, shared links) ---------- */

  var pendingStop = selectedStop;

  function stopKey(stopId) {
    return (/^ch:/i.test(stopId) ? "atlas:" : "osm:") + stopId;
  }

  function openPendingStop() {
    if (!pendingStop) {
      return;
    }
    var drawn = drawnLayers[stopKey(pendingStop)];
    if (drawn) {
      pendingStop = null;
      drawn.layer.openPopup();
    }
  }

  function focusStop(result) {
    pendingStop = result.id;
    var zoom = Math.max(map.getZoom(), Math.max(stopsMinZoom, 17));
    map.setView([result.lat, result.lon], zoom);
    openPendingStop();
    scheduleLoad();
  }

  /* ---------- search ---------- */

  var searchForm = document.getElementById("map-search");
  var searchInput = document.getElementById("map-search-input");
  var searchMessage = document.getElementById("map-search-message");
  var searchResults = document.getElementById("map-search-results");

  function searchSay(text) {
    searchMessage.textContent = text || "";
    searchMessage.hidden = !text;
  }

  function resultLabel(result) {
    var kind = result.layer === "atlas" ? t("atlas_platform") : osmKindLabel(result.kind);
    return (result.name || t("no_name")) + " · " + kind + " · " + result.id;
  }

  function showResults(results) {
    searchResults.textContent = "";
    results.forEach(function (result) {
      var item = element("li");
      var button = element("button", "search-result", resultLabel(result));
      button.type = "button";
      button.dataset.stopId = result.id;
      button.addEventListener("click", function () {
        focusStop(result);
      });
      item.appendChild(button);
      searchResults.appendChild(item);
    });
    searchResults.hidden = results.length === 0;
  }

  if (searchForm && searchInput) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = searchInput.value.trim();
      showResults([]);
      if (!q) {
        return;
      }
      if (ROUTE_QUERY.test(q)) {
        searchSay(t("search_route"));
        return;
      }
      searchSay("");
      getJson(settings.apiBase + "/search?" + new URLSearchParams({ q: q }).toString())
        .then(function (answer) {
          var results = (answer.results || []).filter(function (result) {
            return typeof result.lat === "number" && typeof result.lon === "number";
          });
          if (!results.length) {
            searchSay(t("search_none", { q: q }));
          } else if (results.length === 1) {
            focusStop(results[0]);
          } else {
            showResults(results);
          }
        })
        .catch(function (error) {
          searchSay(error && error.message ? t("search_failed") + " " + error.message : t("search_failed"));
        });
    });
  }

  /* ---------- filter controls and chips ---------- */

  var groupsBox = document.getElementById("map-filter-groups");
  var chipsBox = document.getElementById("map-chips");
  var clearButton = document.getElementById("map-filters-clear");
  var operatorNames = [];

  function setFilter(groupKey, value, on) {
    var values = filters[groupKey];
    var index = values.indexOf(value);
    if (on && index < 0) {
      values.push(value);
    } else if (!on && index >= 0) {
      values.splice(index, 1);
    } else {
      return;
    }
    filtersChanged();
  }

  function filtersChanged() {
    renderFilterControls();
    renderChips();
    writeUrl();
    loadStops();
    loadStatistics();
  }

  function checkbox(group, value) {
    var label = element("label", "filter-option");
    var input = element("input");
    input.type = "checkbox";
    input.name = group.key;
    input.value = value;
    input.checked = filters[group.key].indexOf(value) >= 0;
    input.addEventListener("change", function () {
      setFilter(group.key, value, input.checked);
    });
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + valueLabel(group, value)));
    return label;
  }

  function groupOptions(group) {
    var options = group.options.slice();
    filters[group.key].forEach(function (value) {
      if (options.indexOf(value) < 0) {
        options.push(value);
      }
    });
    return options;
  }

  var openGroups = {};

  function renderFilterControls() {
    if (!groupsBox) {
      return;
    }
    groupsBox.textContent = "";
    FILTER_GROUPS.forEach(function (group) {
      var details = element("details", "filter-group");
      details.dataset.group = group.key;
      details.open = Boolean(openGroups[group.key]);
      details.addEventListener("toggle", function () {
        openGroups[group.key] = details.open;
      });
      var summary = element("summary", null, t(group.label));
      if (filters[group.key].length) {
        summary.appendChild(element("span", "filter-count", " (" + filters[group.key].length + ")"));
      }
      details.appendChild(summary);
      groupOptions(group).forEach(function (value) {
        details.appendChild(checkbox(group, value));
      });
      if (group.free) {
        details.appendChild(operatorInput(group));
      }
      groupsBox.appendChild(details);
    });
  }

  // Any operator by name (the checkboxes show only the largest ones).
  function operatorInput(group) {
    var form = element("div", "filter-free");
    var input = element("input");
    input.type = "text";
    input.name = "operator-add";
    input.setAttribute("list", "map-operator-names");
    input.setAttribute("aria-label", t(group.label));
    input.addEventListener("change", function () {
      var value = input.value.trim();
      if (value) {
        input.value = "";
        setFilter(group.key, value, true);
      }
    });
    var list = element("datalist");
    list.id = "map-operator-names";
    operatorNames.forEach(function (name) {
      var option = element("option");
      option.value = name;
      list.appendChild(option);
    });
    form.appendChild(input);
    form.appendChild(list);
    return form;
  }

  function renderChips() {
    if (!chipsBox) {
      return;
    }
    chipsBox.textContent = "";
    FILTER_GROUPS.forEach(function (group) {
      filters[group.key].forEach(function (value) {
        var text = t(group.label) + ": " + valueLabel(group, value);
        var chip = element("li", "chip");
        chip.dataset.group = group.key;
        chip.dataset.value = value;
        chip.appendChild(element("span", "chip-label", text));
        var remove = element("button", "chip-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", t("remove_filter", { label: text }));
        remove.addEventListener("click", function () {
          setFilter(group.key, value, false);
        });
        chip.appendChild(remove);
        chipsBox.appendChild(chip);
      });
    });
    if (clearButton) {
      clearButton.hidden = !filtersActive();
    }
  }

  if (clearButton) {
    clearButton.addEventListener("click", function () {
      FILTER_GROUPS.forEach(function (group) {
        filters[group.key] = [];
      });
      filtersChanged();
    });
  }

  /* ---------- statistics panel (whole dataset, following the filters) ---------- */

  var statisticsBox = document.getElementById("map-statistics-body");
  var statisticsRequest = null;

  function sideLine(side) {
    var rate = side.total ? percentFormat.format(side.matched / side.total) : "–";
    return t("stats_matched", { matched: formatNumber(side.matched), total: formatNumber(side.total), rate: rate });
  }

  function countList(counts, prefix, className) {
    var keys = Object.keys(counts || {});
    if (!keys.length) {
      return element("p", "stats-none", t("stats_none"));
    }
    var list = element("ul", className);
    keys
      .sort(function (a, b) {
        return counts[b] - counts[a] || (a < b ? -1 : 1);
      })
      .forEach(function (key) {
        var item = element("li");
        item.dataset.key = key;
        item.appendChild(element("span", "stats-label", labelOf(prefix, key)));
        item.appendChild(element("span", "stats-value", formatNumber(counts[key])));
        list.appendChild(item);
      });
    return list;
  }

  function renderStatistics(stats) {
    statisticsBox.textContent = "";
    var facts = element("dl", "stats-totals");
    [
      ["stats_atlas", stats.atlas, "atlas"],
      ["stats_osm", stats.osm, "osm"],
    ].forEach(function (row) {
      facts.appendChild(element("dt", null, t(row[0])));
      var value = element("dd", "stats-" + row[2], sideLine(row[1]));
      facts.appendChild(value);
    });
    statisticsBox.appendChild(facts);
    statisticsBox.appendChild(element("h3", null, t("stats_links") + " (" + formatNumber(stats.links.total) + ")"));
    statisticsBox.appendChild(countList(stats.links.per_method, "method_", "stats-methods"));
    statisticsBox.appendChild(
      element("h3", null, t("stats_problems") + " (" + formatNumber(stats.problems.total) + ")")
    );
    statisticsBox.appendChild(countList(stats.problems.per_type, "problem_", "stats-problems"));
  }

  function loadStatistics() {
    if (!statisticsBox) {
      return;
    }
    if (statisticsRequest) {
      statisticsRequest.abort();
    }
    var controller = new AbortController();
    statisticsRequest = controller;
    statisticsBox.setAttribute("aria-busy", "true");
    getJson(withParams(settings.apiBase + "/statistics", filterParams()), controller.signal)
      .then(function (stats) {
        if (controller !== statisticsRequest) {
          return;
        }
        renderStatistics(stats);
        if (!filtersActive()) {
          learnMethods(Object.keys(stats.links.per_method || {}));
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          return;
        }
        statisticsBox.textContent = "";
        statisticsBox.appendChild(element("p", "stats-none", t("stats_failed")));
      })
      .then(function () {
        if (controller === statisticsRequest) {
          statisticsBox.removeAttribute("aria-busy");
          statisticsRequest = null;
        }
      });
  }

  // The method filter offers the methods the published links use.
  function learnMethods(methods) {
    var group = GROUPS_BY_KEY.method;
    var before = group.options.join(",");
    group.options = methods.slice().sort();
    if (group.options.join(",") !== before) {
      renderFilterControls();
    }
  }

  function loadFilterOptions() {
    if (filtersActive()) {
      // The statistics are filtered: ask once more without filters for the method names.
      getJson(settings.apiBase + "/statistics")
        .then(function (stats) {
          learnMethods(Object.keys(stats.links.per_method || {}));
        })
        .catch(function () {
          return null;
        });
    }
    getJson(settings.apiBase + "/operators")
      .then(function (answer) {
        var rows = (answer.operators || []).filter(function (row) {
          return row.operator;
        });
        operatorNames = rows.map(function (row) {
          return row.operator;
        });
        GROUPS_BY_KEY.operator.options = operatorNames.slice(0, TOP_OPERATORS);
        renderFilterControls();
      })
      .catch(function () {
        return null; // the free-text field still works
      });
  }

  /* ---------- canton and lake outlines (vendored swiss-maps TopoJSON) ---------- */

  // Minimal TopoJSON decoder: quantised, delta-encoded arcs -> GeoJSON polygons.
  function topologyToGeoJson(topology, objectName) {
    var scale = topology.transform ? topology.transform.scale : [1, 1];
    var translate = topology.transform ? topology.transform.translate : [0, 0];
    var arcs = topology.arcs.map(function (arc) {
      var x = 0;
      var y = 0;
      return arc.map(function (position) {
        if (topology.transform) {
          x += position[0];
          y += position[1];
        } else {
          x = position[0];
          y = position[1];
        }
        return [x * scale[0] + translate[0], y * scale[1] + translate[1]];
      });
    });

    function ring(arcIndexes) {
      var points = [];
      arcIndexes.forEach(function (index, position) {
        // A negative index ~i means arc i walked backwards.
        var arc = index < 0 ? arcs[~index].slice().reverse() : arcs[index];
        points = points.concat(position === 0 ? arc : arc.slice(1));
      });
      return points;
    }

    function geometry(object) {
      if (object.type === "Polygon") {
        return { type: "Polygon", coordinates: object.arcs.map(ring) };
      }
      if (object.type === "MultiPolygon") {
        return {
          type: "MultiPolygon",
          coordinates: object.arcs.map(function (polygon) {
            return polygon.map(ring);
          }),
        };
      }
      return null;
    }

    var source = topology.objects[objectName];
    var members = source.type === "GeometryCollection" ? source.geometries : [source];
    return {
      type: "FeatureCollection",
      features: members
        .map(function (member) {
          var shape = geometry(member);
          return shape ? { type: "Feature", properties: member.properties || {}, geometry: shape } : null;
        })
        .filter(Boolean),
    };
  }

  function loadBoundaries() {
    if (!settings.boundariesUrl) {
      return;
    }
    fetch(settings.boundariesUrl)
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (topology) {
        var outline = { pane: "boundaries", interactive: false, fill: false };
        L.geoJSON(topologyToGeoJson(topology, "cantons"), {
          style: function () {
            return Object.assign({ color: "#6e7781", weight: 1, opacity: 0.6 }, outline);
          },
          interactive: false,
          pane: "boundaries",
        }).addTo(boundaryLayer);
        L.geoJSON(topologyToGeoJson(topology, "lakes"), {
          style: function () {
            return {
              pane: "boundaries",
              interactive: false,
              color: "#6f9fd8",
              weight: 0.5,
              fillColor: "#a9c9f0",
              fillOpacity: 0.45,
            };
          },
          interactive: false,
          pane: "boundaries",
        }).addTo(boundaryLayer);
        L.geoJSON(topologyToGeoJson(topology, "country"), {
          style: function () {
            return Object.assign({ color: "#24292f", weight: 2, opacity: 0.8 }, outline);
          },
          interactive: false,
          pane: "boundaries",
        }).addTo(boundaryLayer);
      })
      .catch(function (error) {
        // Outlines only help orientation when tiles are unavailable; the map works without them.
        window.console.warn("stopsync: canton outlines not loaded:", error);
      });
  }

  /* ---------- start ---------- */

  renderFilterControls();
  renderChips();
  writeUrl();
  loadStops();
  loadStatistics();
  loadFilterOptions();
  loadBoundaries();
})();
