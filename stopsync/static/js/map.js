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
  var OSM_BASE = "https://www.openstreetmap.org/";
  var ATLAS_BASE = "https://atlas.app.sbb.ch/service-point-directory/service-points/";
  var JOSM_BASE = "http://127.0.0.1:8111/load_object?objects=";
  var OSM_ID_PATTERN = /^(node|way|relation)\/(\d+)$/;
  // Below this zoom the page asks the API for a clustered overview (when the API has one).
  var DEFAULT_STOPS_MIN_ZOOM = 14;
  var MAX_POPUP_LINKS = 4;
  var TOP_OPERATORS = 12;
  // ``highlight`` is the route drawn on the map; ``route`` (a filter) keeps only its stops.
  var URL_VIEW_KEYS = ["lat", "lon", "z", "stop", "base", "overlays", "units", "highlight"];
  // Connectors between the members of every visible pair/trio from this zoom on (city zoom).
  var UNITS_MIN_ZOOM = 15;
  // Data tiles (/api/v1/tiles/{z}/{x}/{y}): one fixed data zoom whatever the view zoom, from
  // the city zoom on, so that panning and zooming reuse the cached tiles.
  var TILE_DATA_ZOOM = 15;
  var TILE_VIEW_MIN_ZOOM = 14;
  var TILE_MAX_PER_VIEW = 120;
  var TILE_CACHE_MAX = 600;
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
    tileLayers: parseJsonList(container.dataset.tileLayers),
    tilesUrl: container.dataset.tilesUrl || "",
    facetsUrl: container.dataset.facetsUrl || "",
    locale: container.dataset.locale || "en",
    initialBounds: parseBbox(container.dataset.initialBbox || "5.95,45.81,10.50,47.81"),
  };

  function parseJsonList(text) {
    try {
      var value = JSON.parse(text || "[]");
      return Array.isArray(value) ? value : [];
    } catch (error) {
      window.console.warn("stopsync: settings not readable:", error);
      return [];
    }
  }

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
    ["route", "#fb8500"],
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

  // Only for the two places Leaflet insists on HTML: layer names and tile attributions.
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
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
  // (the API's semantics). A ``boolean`` group with both values is no filter at all. ``closed`` groups
  // accept only their listed values from a URL; the others learn their values from the API
  // (facets, operators, statistics) and keep any value a shared link names. ``free`` groups
  // also take any typed value.
  var CANTONS = [
    "AG", "AI", "AR", "BE", "BL", "BS", "FR", "GE", "GL", "GR", "JU", "LU", "NE",
    "NW", "OW", "SG", "SH", "SO", "SZ", "TG", "TI", "UR", "VD", "VS", "ZG", "ZH",
  ];
  var FILTER_GROUPS = [
    { key: "method", label: "group_method", prefix: "method_", options: [] },
    { key: "matched", label: "group_matched", options: ["true", "false"], closed: true, boolean: true },
    {
      key: "unmatched_reason",
      label: "group_unmatched_reason",
      prefix: "reason_",
      facet: "unmatched_reasons",
      options: ["no_osm_within_50m", "no_candidate", "contradicting_platform_code", "ambiguous"],
    },
    { key: "operator", label: "group_operator", prefix: "", options: [], free: true },
    { key: "osm_operator", label: "group_osm_operator", prefix: "", facet: "osm_operators", options: [], free: true },
    {
      key: "kind",
      label: "group_kind",
      prefix: "kind_",
      options: ["platform", "stop_position", "station"],
      closed: true,
    },
    {
      key: "mode",
      label: "group_mode",
      prefix: "mode_",
      facet: "modes",
      options: ["train", "light_rail", "subway", "tram", "bus", "ferry", "aerialway", "funicular"],
    },
    { key: "canton", label: "group_canton", prefix: "canton_", facet: "cantons", options: CANTONS.slice() },
    {
      key: "duplicates",
      label: "group_duplicates",
      prefix: "duplicates_",
      options: ["true", "false"],
      closed: true,
      boolean: true,
    },
    {
      key: "problem_type",
      label: "group_problem_type",
      prefix: "problem_",
      closed: true,
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
    { key: "priority", label: "group_priority", prefix: "priority_", options: ["1", "2", "3"], closed: true },
    // Set from a highlighted route ("Only this route"); a chip, no menu.
    { key: "route", label: "group_route", options: [], chipOnly: true },
  ];
  var routeLabels = {}; // route id -> "Bus 31", for the chips
  var GROUPS_BY_KEY = {};
  FILTER_GROUPS.forEach(function (group) {
    GROUPS_BY_KEY[group.key] = group;
  });

  function valueLabel(group, value) {
    if (group.key === "matched") {
      return value === "true" ? t("state_linked") : t("state_unmatched");
    }
    if (group.key === "canton") {
      return String(value).toUpperCase();
    }
    if (group.key === "route") {
      return routeLabels[value] || String(value);
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
      if (group.boolean) {
        if (values.length === 1) {
          params.set(group.key, values[0]);
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
    if (group.closed) {
      values = values.filter(function (value) {
        return group.options.indexOf(value) >= 0;
      });
    }
    filters[group.key] = values;
  });
  var selectedStop = initialUrl.get("stop") || null;
  var showUnits = initialUrl.get("units") !== "0";
  var selectedRoute = null; // {id, label}

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
    // Tile layers and toggles only when they differ from the defaults: short shared links.
    if (currentBase && currentBase !== defaultBase) {
      params.set("base", currentBase);
    }
    if (activeTileOverlays.length) {
      params.set("overlays", activeTileOverlays.join(","));
    }
    if (!showUnits) {
      params.set("units", "0");
    }
    if (selectedRoute) {
      params.set("highlight", selectedRoute.id);
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
    learnUnits(details.units || []);
    openUnitKeys = (details.units || []).map(function (unit) {
      return unit.key;
    });
    drawUnitConnectors();
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
    ["route", 415],
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

  /* ---------- tile layers (MAP_TILE_LAYERS): base layers and tile overlays ---------- */

  // Tiles are a nice-to-have: offline they fail quietly and the data layers still work.
  var baseLayers = {};
  var tileOverlays = {};
  var tileLayerById = {};
  var baseIds = [];
  settings.tileLayers.forEach(function (config) {
    if (!config || !config.id || !config.url || tileLayerById[config.id]) {
      return;
    }
    var attribution = escapeHtml(config.attribution || "");
    if (config.attribution_url && /^https?:\/\//.test(config.attribution_url)) {
      attribution =
        '<a href="' + escapeHtml(config.attribution_url) + '" target="_blank" rel="noopener noreferrer">' +
        attribution + "</a>";
    }
    var layer = L.tileLayer(config.url, {
      maxZoom: 19,
      maxNativeZoom: Number(config.max_zoom) || 19,
      subdomains: config.subdomains || "abc",
      attribution: attribution,
      className: "tiles-" + config.id,
    });
    layer.stopsyncTileId = config.id;
    tileLayerById[config.id] = layer;
    // The layers control puts names into the page as HTML.
    var label = '<span class="layer-name" data-layer="' + escapeHtml(config.id) + '">' + escapeHtml(config.name) + "</span>";
    if (config.overlay) {
      tileOverlays[label] = layer;
    } else {
      baseLayers[label] = layer;
      baseIds.push(config.id);
    }
  });
  var defaultBase = baseIds[0] || null;
  var currentBase = baseIds.indexOf(initialUrl.get("base")) >= 0 ? initialUrl.get("base") : defaultBase;
  var activeTileOverlays = splitValues(initialUrl.get("overlays")).filter(function (id) {
    return tileLayerById[id] && baseIds.indexOf(id) < 0;
  });
  if (currentBase) {
    tileLayerById[currentBase].addTo(map);
  }
  activeTileOverlays.forEach(function (id) {
    tileLayerById[id].addTo(map);
  });

  var boundaryLayer = L.layerGroup().addTo(map);
  var linkLayer = L.layerGroup().addTo(map);
  var unitLayer = L.layerGroup();
  if (showUnits) {
    unitLayer.addTo(map);
  }
  var routeLayer = L.layerGroup().addTo(map);
  var osmLayer = L.layerGroup().addTo(map);
  var atlasLayer = L.layerGroup().addTo(map);
  var clusterLayer = L.layerGroup().addTo(map);
  var overlays = Object.assign({}, tileOverlays);
  overlays[t("layer_atlas")] = atlasLayer;
  overlays[t("layer_osm")] = osmLayer;
  overlays[t("layer_links")] = linkLayer;
  overlays[t("layer_boundaries")] = boundaryLayer;
  L.control.layers(baseLayers, overlays).addTo(map);

  // The chosen base layer and tile overlays go into the URL.
  map.on("baselayerchange", function (event) {
    if (event.layer && event.layer.stopsyncTileId) {
      currentBase = event.layer.stopsyncTileId;
      writeUrl();
    }
  });
  map.on("overlayadd overlayremove", function (event) {
    var id = event.layer && event.layer.stopsyncTileId;
    if (!id) {
      return;
    }
    activeTileOverlays = activeTileOverlays.filter(function (other) {
      return other !== id;
    });
    if (event.type === "overlayadd") {
      activeTileOverlays.push(id);
    }
    writeUrl();
  });
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
        openUnitKeys = [];
        drawUnitConnectors();
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
        next[key] = { layer: layer, signature: signature, group: props.layer, id: props.id };
        if (props.layer === "osm") {
          learnUnitFromProps(props);
        }
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
    drawUnitConnectors();
    return counts.atlas + counts.osm + counts.link;
  }

  function clearStops() {
    Object.keys(drawnLayers).forEach(function (key) {
      groups[drawnLayers[key].group].removeLayer(drawnLayers[key].layer);
    });
    drawnLayers = {};
  }

  /* ---------- stop units: connectors between the members of each pair and trio ---------- */

  var unitsByKey = {}; // unit key -> {kind, members}
  var openUnitKeys = []; // the units of the open stop, drawn at every zoom

  function isGroupedUnit(unit) {
    return Boolean(unit) && (unit.kind === "pair" || unit.kind === "trio");
  }

  function learnUnits(units) {
    units.forEach(function (unit) {
      if (unit && unit.key && Array.isArray(unit.members)) {
        unitsByKey[unit.key] = { kind: unit.kind, members: unit.members.map(String) };
      }
    });
  }

  // Every OSM item of /stops and /tiles names its pair or trio: ``unit_key`` is
  // ``<kind>:<osm_id>+<osm_id>[+...]`` ("" for a single), so the members need no detail request.
  function learnUnitFromProps(props) {
    var key = typeof props.unit_key === "string" ? props.unit_key : "";
    var colon = key.indexOf(":");
    if (colon <= 0 || unitsByKey[key]) {
      return;
    }
    var members = key.slice(colon + 1).split("+").filter(Boolean);
    unitsByKey[key] = { kind: key.slice(0, colon), members: members };
  }

  function unitsVisible() {
    return showUnits && map.getZoom() >= UNITS_MIN_ZOOM;
  }

  // One thin line per pair/trio with at least two members on the map, in member order; below
  // the city zoom only the open stop's unit.
  function drawUnitConnectors() {
    unitLayer.clearLayers();
    container.dataset.units = "0";
    if (!showUnits) {
      return;
    }
    var everywhere = unitsVisible();
    Object.keys(unitsByKey).forEach(function (key) {
      var unit = unitsByKey[key];
      var open = openUnitKeys.indexOf(key) >= 0;
      if (!isGroupedUnit(unit) || (!everywhere && !open)) {
        return;
      }
      var points = unit.members
        .map(function (member) {
          var drawn = drawnLayers["osm:" + member];
          return drawn && drawn.layer.getLatLng ? drawn.layer.getLatLng() : null;
        })
        .filter(Boolean);
      if (points.length >= 2) {
        var line = L.polyline(points, {
          className: "stop-unit stop-unit-" + unit.kind,
          pane: "links",
          color: COLOURS.unit,
          weight: open ? 4 : 3,
          opacity: 0.8,
          interactive: false,
        });
        line.unitKey = key;
        unitLayer.addLayer(line);
      }
    });
    container.dataset.units = String(unitLayer.getLayers().length);
  }

  var unitsToggle = document.getElementById("map-units-toggle");
  if (unitsToggle) {
    unitsToggle.checked = showUnits;
    unitsToggle.addEventListener("change", function () {
      showUnits = unitsToggle.checked;
      if (showUnits) {
        unitLayer.addTo(map);
      } else {
        map.removeLayer(unitLayer);
      }
      writeUrl();
      drawUnitConnectors();
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

  // A GeoJSON answer of /stops or /tiles: its body, or an error the status line can show.
  function fetchFeatures(url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: "application/geo+json, application/json" } })
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
            return body;
          });
      });
  }

  function fetchStops(signal, bbox) {
    var params = filterParams();
    params.set("bbox", bbox);
    return fetchFeatures(withParams(settings.stopsUrl, params), signal).then(function (body) {
      return { kind: "stops", body: body };
    });
  }

  // The overview when the view holds more stops than one answer of /stops may carry; null to
  // load the stops themselves (zoomed in, few stops, or an API without an overview).
  function fetchOverview(signal, bbox) {
    var zoom = Math.round(map.getZoom());
    var total = knownTotals[filterParams().toString()];
    // When every stop under the filters fits one answer, no view needs clusters.
    if (!overviewAvailable || zoom >= stopsMinZoom || (typeof total === "number" && total <= settings.stopsLimit)) {
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

  /* ---------- data tiles at city zoom (/api/v1/tiles/{z}/{x}/{y}) ---------- */

  // Answers by filters and tile; oldest evicted first. Pending requests are shared by the loads
  // that need them, and cancelled once no load needs them any more.
  var tileCache = {};
  var tileCacheOrder = [];
  var pendingTiles = {};

  function useTiles() {
    return Boolean(settings.tilesUrl) && map.getZoom() >= TILE_VIEW_MIN_ZOOM && tilesInView().length <= TILE_MAX_PER_VIEW;
  }

  function tileX(lon, zoom) {
    return Math.floor(((lon + 180) / 360) * Math.pow(2, zoom));
  }

  function tileY(lat, zoom) {
    var radians = (clamp(lat, -85.0511, 85.0511) * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(radians) + 1 / Math.cos(radians)) / Math.PI) / 2) * Math.pow(2, zoom));
  }

  // The data tiles covering the view, centre first (they arrive, and are drawn, first).
  function tilesInView() {
    var bounds = map.getBounds();
    var zoom = TILE_DATA_ZOOM;
    var last = Math.pow(2, zoom) - 1;
    var minX = clamp(tileX(bounds.getWest(), zoom), 0, last);
    var maxX = clamp(tileX(bounds.getEast(), zoom), 0, last);
    var minY = clamp(tileY(bounds.getNorth(), zoom), 0, last);
    var maxY = clamp(tileY(bounds.getSouth(), zoom), 0, last);
    var centreX = (minX + maxX) / 2;
    var centreY = (minY + maxY) / 2;
    var tiles = [];
    for (var x = minX; x <= maxX; x += 1) {
      for (var y = minY; y <= maxY; y += 1) {
        tiles.push({ z: zoom, x: x, y: y, path: zoom + "/" + x + "/" + y });
      }
    }
    return tiles.sort(function (a, b) {
      return Math.abs(a.x - centreX) + Math.abs(a.y - centreY) - (Math.abs(b.x - centreX) + Math.abs(b.y - centreY));
    });
  }

  function rememberTile(key, entry) {
    if (!tileCache[key]) {
      tileCacheOrder.push(key);
    }
    tileCache[key] = entry;
    while (tileCacheOrder.length > TILE_CACHE_MAX) {
      delete tileCache[tileCacheOrder.shift()];
    }
  }

  function fetchTile(tile, filterQuery, key) {
    if (pendingTiles[key]) {
      return pendingTiles[key].promise;
    }
    var controller = new AbortController();
    var url = settings.tilesUrl + "/" + tile.path + (filterQuery ? "?" + filterQuery : "");
    var promise = fetchFeatures(url, controller.signal)
      .then(function (body) {
        var entry = { features: body.features, truncated: Boolean(body.truncated), limit: body.limit };
        rememberTile(key, entry);
        return entry;
      })
      .then(
        function (entry) {
          delete pendingTiles[key];
          return entry;
        },
        function (error) {
          delete pendingTiles[key];
          throw error;
        }
      );
    pendingTiles[key] = { controller: controller, promise: promise };
    return promise;
  }

  // Every tile of the view, from the cache or the API; the features merged by id (drawFeatures
  // keys them), drawn as the tiles arrive.
  function fetchTiles(controller) {
    var filterQuery = filterParams().toString();
    var tiles = tilesInView();
    var needed = {};
    tiles.forEach(function (tile) {
      needed[filterQuery + "|" + tile.path] = true;
    });
    Object.keys(pendingTiles).forEach(function (key) {
      if (!needed[key]) {
        pendingTiles[key].controller.abort();
        delete pendingTiles[key];
      }
    });
    function collect() {
      var merged = { type: "FeatureCollection", features: [], truncated: false, limit: null };
      tiles.forEach(function (tile) {
        var entry = tileCache[filterQuery + "|" + tile.path];
        if (entry) {
          merged.features = merged.features.concat(entry.features);
          merged.truncated = merged.truncated || entry.truncated;
          merged.limit = typeof entry.limit === "number" ? entry.limit : merged.limit;
        }
      });
      return merged;
    }
    var drawTimer = null;
    function drawSoFar() {
      window.clearTimeout(drawTimer);
      drawTimer = window.setTimeout(function () {
        if (controller === currentRequest) {
          drawFeatures(collect().features);
        }
      }, 30);
    }
    if (tiles.some(function (tile) {
      return tileCache[filterQuery + "|" + tile.path];
    })) {
      drawSoFar();
    }
    return Promise.all(
      tiles.map(function (tile) {
        var key = filterQuery + "|" + tile.path;
        return tileCache[key] ? Promise.resolve(tileCache[key]) : fetchTile(tile, filterQuery, key).then(function (entry) {
          drawSoFar();
          return entry;
        });
      })
    ).then(function () {
      window.clearTimeout(drawTimer);
      if (controller.signal.aborted) {
        var error = new Error("superseded");
        error.name = "AbortError";
        throw error;
      }
      return { kind: "stops", body: collect() };
    });
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
        if (clustered) {
          return clustered;
        }
        return useTiles() ? fetchTiles(controller) : fetchStops(controller.signal, bbox);
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

  function isRoute(result) {
    return result && (result.kind === "route" || result.layer === "route");
  }

  function routeName(route) {
    var ref = route.ref || route.short_name || route.name || route.id;
    var mode = route.mode ? labelOf("mode_", route.mode) : "";
    return mode ? mode.charAt(0).toUpperCase() + mode.slice(1) + " " + ref : String(ref);
  }

  function resultLabel(result) {
    if (isRoute(result)) {
      var parts = [routeName(result), t("route")];
      var detail = result.long_name || (result.name && result.name !== result.ref ? result.name : "");
      if (detail) {
        parts.splice(1, 0, detail);
      }
      if (result.operator) {
        parts.push(result.operator);
      }
      return parts.join(" · ");
    }
    var kind = result.layer === "atlas" ? t("atlas_platform") : osmKindLabel(result.kind);
    return (result.name || t("no_name")) + " · " + kind + " · " + result.id;
  }

  function chooseResult(result) {
    if (isRoute(result)) {
      showRoute(result, true);
    } else {
      focusStop(result);
    }
  }

  function showResults(results) {
    searchResults.textContent = "";
    results.forEach(function (result) {
      var item = element("li");
      var button = element("button", "search-result" + (isRoute(result) ? " is-route" : ""), resultLabel(result));
      button.type = "button";
      if (isRoute(result)) {
        button.dataset.routeId = result.id;
      } else {
        button.dataset.stopId = result.id;
      }
      button.addEventListener("click", function () {
        chooseResult(result);
      });
      item.appendChild(button);
      searchResults.appendChild(item);
    });
    searchResults.hidden = results.length === 0;
  }

  function usableResult(result) {
    if (isRoute(result)) {
      return result.id !== undefined && result.id !== null && result.id !== "";
    }
    return typeof result.lat === "number" && typeof result.lon === "number";
  }

  if (searchForm && searchInput) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = searchInput.value.trim();
      showResults([]);
      if (!q) {
        return;
      }
      searchSay("");
      getJson(settings.apiBase + "/search?" + new URLSearchParams({ q: q }).toString())
        .then(function (answer) {
          var results = (answer.results || []).filter(usableResult);
          if (!results.length) {
            searchSay(t("search_none", { q: q }));
          } else if (results.length === 1) {
            chooseResult(results[0]);
          } else {
            showResults(results);
          }
        })
        .catch(function (error) {
          searchSay(error && error.message ? t("search_failed") + " " + error.message : t("search_failed"));
        });
    });
  }

  /* ---------- one route: its stops highlighted, the map fitted to it ---------- */

  var routePanel = document.getElementById("map-route");
  var routeLabel = document.getElementById("map-route-label");
  var routeClear = document.getElementById("map-route-clear");
  var routeLegend = document.querySelector(".legend-route");
  var routeRequest = null;

  // /routes/{id}: the route, its bbox and its stops. Ids hold a slash (osm:relation/123).
  function routeStopsUrl(route) {
    if (typeof route.details === "string" && route.details.charAt(0) === "/") {
      return route.details;
    }
    return settings.apiBase + "/routes/" + String(route.id).split("/").map(encodeURIComponent).join("/");
  }

  // The route's stops as {id, lat, lon}, whether the API answers with a list or GeoJSON.
  function routeStops(answer) {
    var items = answer.stops || answer.features || answer.results || [];
    return items
      .map(function (item) {
        if (item && item.geometry && Array.isArray(item.geometry.coordinates)) {
          var props = item.properties || {};
          return { id: props.id || props.sloid || props.osm_id, name: props.name, lat: item.geometry.coordinates[1], lon: item.geometry.coordinates[0] };
        }
        return item && { id: item.id || item.sloid || item.osm_id, name: item.name, lat: item.lat, lon: item.lon };
      })
      .filter(function (stop) {
        return stop && typeof stop.lat === "number" && typeof stop.lon === "number";
      });
  }

  function boundsOf(bbox, stops) {
    if (Array.isArray(bbox) && bbox.length === 4 && bbox.every(isFinite)) {
      return L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
    }
    return stops.length ? L.latLngBounds(stops.map(function (stop) {
      return [stop.lat, stop.lon];
    })) : null;
  }

  function showRoute(route, fit) {
    if (routeRequest) {
      routeRequest.abort();
    }
    var controller = new AbortController();
    routeRequest = controller;
    var label = route.ref || route.name ? routeName(route) : String(route.id);
    selectedRoute = { id: String(route.id), label: label };
    routeLabels[selectedRoute.id] = label;
    writeUrl();
    getJson(routeStopsUrl(route), controller.signal)
      .then(function (answer) {
        if (controller !== routeRequest) {
          return;
        }
        var described = answer.route || answer;
        if (described.ref || described.name) {
          selectedRoute.label = routeName(Object.assign({}, route, described));
          routeLabels[selectedRoute.id] = selectedRoute.label;
          renderChips();
        }
        var stops = routeStops(answer);
        drawRoute(stops);
        var bounds = boundsOf(answer.bbox || described.bbox || route.bbox, stops);
        if (fit && bounds && bounds.isValid()) {
          map.fitBounds(bounds, { padding: [30, 30], maxZoom: 17 });
        }
        showRoutePanel(t("route_stops", { route: selectedRoute.label, count: formatNumber(stops.length) }));
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          return;
        }
        routeLayer.clearLayers();
        showRoutePanel(t("route_failed", { route: label }));
      });
  }

  function drawRoute(stops) {
    routeLayer.clearLayers();
    stops.forEach(function (stop) {
      var ring = L.circleMarker([stop.lat, stop.lon], {
        className: "route-stop",
        pane: "route",
        radius: 11,
        color: COLOURS.route,
        weight: 4,
        fill: false,
        interactive: false,
      });
      routeLayer.addLayer(ring);
    });
    if (routeLegend) {
      routeLegend.hidden = stops.length === 0;
    }
  }

  function showRoutePanel(text) {
    if (!routePanel) {
      return;
    }
    routeLabel.textContent = text;
    routePanel.hidden = false;
  }

  function clearRoute() {
    if (routeRequest) {
      routeRequest.abort();
      routeRequest = null;
    }
    selectedRoute = null;
    routeLayer.clearLayers();
    if (routePanel) {
      routePanel.hidden = true;
    }
    if (routeLegend) {
      routeLegend.hidden = true;
    }
    writeUrl();
  }

  if (routeClear) {
    routeClear.addEventListener("click", clearRoute);
  }
  var routeOnly = document.getElementById("map-route-only");
  if (routeOnly) {
    routeOnly.addEventListener("click", function () {
      if (selectedRoute) {
        setFilter("route", selectedRoute.id, true);
      }
    });
  }

  /* ---------- filter controls and chips ---------- */

  var groupsBox = document.getElementById("map-filter-groups");
  var chipsBox = document.getElementById("map-chips");
  var clearButton = document.getElementById("map-filters-clear");

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
    if (group.counts && typeof group.counts[value] === "number") {
      label.appendChild(element("span", "filter-option-count", formatNumber(group.counts[value])));
    }
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
      if (group.chipOnly) {
        return;
      }
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
        details.appendChild(freeInput(group));
      }
      groupsBox.appendChild(details);
    });
  }

  // Any value by name (the checkboxes show only the most frequent ones).
  function freeInput(group) {
    var form = element("div", "filter-free");
    var input = element("input");
    var listId = "map-" + group.key.replace(/_/g, "-") + "-names";
    input.type = "text";
    input.name = group.key + "-add";
    input.setAttribute("list", listId);
    input.setAttribute("aria-label", t(group.label));
    input.addEventListener("change", function () {
      var value = input.value.trim();
      if (value) {
        input.value = "";
        setFilter(group.key, value, true);
      }
    });
    var list = element("datalist");
    list.id = listId;
    (group.names || []).forEach(function (name) {
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
  var knownTotals = {}; // filter query -> ATLAS platforms + OSM elements under those filters

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
    var filterQuery = filterParams().toString();
    getJson(withParams(settings.apiBase + "/statistics", filterParams()), controller.signal)
      .then(function (stats) {
        if (stats.atlas && stats.osm && typeof stats.atlas.total === "number" && typeof stats.osm.total === "number") {
          knownTotals[filterQuery] = stats.atlas.total + stats.osm.total;
        }
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

  // A facet's values: strings, or objects with ``value`` (and ``count``), in the API's order.
  function facetValues(raw) {
    var list = Array.isArray(raw) ? raw : raw && Array.isArray(raw.values) ? raw.values : null;
    if (!list) {
      return null;
    }
    var counts = {};
    var values = list
      .map(function (item) {
        if (item !== null && typeof item === "object") {
          if (typeof item.count === "number") {
            counts[item.value] = item.count;
          }
          return item.value;
        }
        return item;
      })
      .filter(function (value) {
        return !isBlank(value);
      })
      .map(String);
    values.counts = counts;
    return values;
  }

  function learnOptions(group, values) {
    var before = group.options.join(",");
    group.counts = values.counts || null;
    if (group.free) {
      group.names = values.slice();
      group.options = values.slice(0, TOP_OPERATORS);
    } else {
      group.options = values.slice();
    }
    return group.options.join(",") !== before || group.free;
  }

  // The values of each filter group: /facets when the API has it, /operators for the ATLAS
  // operators otherwise; the built-in lists stay where neither answers.
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
    if (!settings.facetsUrl) {
      loadOperators();
      return;
    }
    getJson(settings.facetsUrl)
      .then(function (answer) {
        var facets = answer.facets || answer;
        var changed = false;
        FILTER_GROUPS.forEach(function (group) {
          var values = group.facet ? facetValues(facets[group.facet]) : null;
          if (values && values.length) {
            changed = learnOptions(group, values) || changed;
          }
        });
        if (changed) {
          renderFilterControls();
        }
        return loadOperators(); // /facets lists OSM operators; ATLAS operators come from here
      })
      .catch(function () {
        return loadOperators(); // an API without /facets
      });
  }

  function loadOperators() {
    return getJson(settings.apiBase + "/operators")
      .then(function (answer) {
        var names = (answer.operators || [])
          .filter(function (row) {
            return row.operator;
          })
          .map(function (row) {
            return row.operator;
          });
        learnOptions(GROUPS_BY_KEY.operator, names);
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
  if (initialUrl.get("highlight")) {
    // A shared link to a route: highlight it; fit the map to it unless the link has a view.
    showRoute({ id: initialUrl.get("highlight") }, !restored);
  }
  loadStops();
  loadStatistics();
  loadFilterOptions();
  loadBoundaries();
})();
