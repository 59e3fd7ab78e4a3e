/* stopsync map page: ATLAS platforms, OSM stop elements and the links between them.
 *
 * Settings come from data-* attributes on #map (the CSP allows no inline script).
 * Every string from the API is untrusted: popups are built with DOM APIs and textContent,
 * never with innerHTML.
 */
(function () {
  "use strict";

  var MOVE_DEBOUNCE_MS = 300;
  var TILE_ATTRIBUTION =
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var OSM_BASE = "https://www.openstreetmap.org/";
  var ATLAS_BASE = "https://atlas.app.sbb.ch/service-point-directory/service-points/";
  var OSM_ID_PATTERN = /^(node|way|relation)\/(\d+)$/;

  var container = document.getElementById("map");
  if (!container || typeof L === "undefined") {
    return;
  }
  var statusBox = document.getElementById("map-status");
  var countsBox = document.getElementById("map-counts");

  var settings = {
    stopsUrl: container.dataset.stopsUrl || "/api/v1/stops",
    boundariesUrl: container.dataset.boundariesUrl || "",
    tileUrl: container.dataset.tileUrl || "",
    initialBounds: parseBbox(container.dataset.initialBbox || "5.95,45.81,10.50,47.81"),
  };

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

  function externalLink(href, label) {
    var anchor = element("a", null, label);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function parseOsmId(osmId) {
    var match = OSM_ID_PATTERN.exec(String(osmId || ""));
    return match ? { type: match[1], id: match[2] } : null;
  }

  function osmLinks(osmId) {
    var parsed = parseOsmId(osmId);
    if (!parsed) {
      return [];
    }
    return [
      externalLink(OSM_BASE + parsed.type + "/" + parsed.id, "openstreetmap.org"),
      externalLink(
        OSM_BASE + "edit?editor=id&" + parsed.type + "=" + parsed.id,
        "Edit in iD"
      ),
    ];
  }

  function atlasLink(number) {
    if (number === undefined || number === null || number === "") {
      return null;
    }
    return externalLink(
      ATLAS_BASE + encodeURIComponent(String(number)) + "/traffic-point-elements",
      "ATLAS service point"
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

  /* ---------- popups ---------- */

  function popupShell(title, kindLabel) {
    var root = element("div", "stop-popup");
    root.appendChild(element("h3", null, title || "(no name)"));
    root.appendChild(element("p", "popup-kind", kindLabel));
    return root;
  }

  function appendFacts(root, facts) {
    var list = element("dl");
    facts.forEach(function (fact) {
      var value = fact[1];
      if (value === undefined || value === null || value === "") {
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

  function atlasPopup(props, linkedOsmIds) {
    var root = popupShell(props.name, "ATLAS platform");
    appendFacts(root, [
      ["SLOID", props.id],
      ["Service point", props.number],
      ["Designation", props.designation],
      ["Operator", props.operator],
      ["Matched", props.matched ? "yes" : "no"],
      ["Linked to", linkedElementsList(linkedOsmIds)],
    ]);
    appendLinks(root, [atlasLink(props.number)]);
    return root;
  }

  function osmPopup(props) {
    var root = popupShell(props.name, "OSM " + (props.kind || "element").replace("_", " "));
    appendFacts(root, [
      ["OSM id", props.id],
      ["uic_ref", props.uic_ref],
      ["local_ref", props.local_ref],
      ["Matched", props.matched ? "yes" : "no"],
    ]);
    appendLinks(root, osmLinks(props.id));
    return root;
  }

  function linkPopup(props) {
    var root = popupShell(props.sloid, "Link ATLAS ↔ OSM");
    var distance =
      typeof props.distance_m === "number" ? props.distance_m.toFixed(1) + " m" : null;
    appendFacts(root, [
      ["SLOID", props.sloid],
      ["OSM id", props.osm_id],
      ["Method", props.method],
      ["Distance", distance],
    ]);
    appendLinks(root, osmLinks(props.osm_id));
    return root;
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
  var osmLayer = L.layerGroup().addTo(map);
  var atlasLayer = L.layerGroup().addTo(map);
  L.control
    .layers(baseLayers, {
      "ATLAS platforms": atlasLayer,
      "OSM elements": osmLayer,
      Links: linkLayer,
      "Cantons and lakes": boundaryLayer,
    })
    .addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  map.fitBounds(settings.initialBounds);

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

  function createLayer(feature, linkedOsmIds) {
    var props = feature.properties;
    var geometry = feature.geometry;
    if (props.layer === "link") {
      return L.polyline(geometry.coordinates.map(latLngOf), {
        className: "stop-link",
        pane: "links",
        color: COLOURS.link,
        weight: 2,
        dashArray: "4 4",
      }).bindPopup(function () {
        return linkPopup(props);
      });
    }
    var marker = L.circleMarker(latLngOf(geometry.coordinates), markerStyle(props));
    // Leaflet treats string content as HTML: hand it a text-only element instead.
    marker.bindTooltip(element("span", null, props.name || props.id || ""));
    marker.bindPopup(function () {
      return props.layer === "atlas" ? atlasPopup(props, linkedOsmIds) : osmPopup(props);
    });
    return marker;
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
      countsBox.textContent =
        counts.atlas + " ATLAS · " + counts.osm + " OSM · " + counts.link + " links in view";
    }
    return counts.atlas + counts.osm + counts.link;
  }

  /* ---------- loading ---------- */

  var currentRequest = null;
  var debounceTimer = null;

  function viewShowsAllOfSwitzerland() {
    return map.getBounds().pad(0.01).contains(settings.initialBounds);
  }

  function errorText(response, body) {
    if (body && typeof body.message === "string" && body.message) {
      return "Could not load stops: " + body.message;
    }
    return "Could not load stops (HTTP " + response.status + ").";
  }

  function loadStops() {
    if (currentRequest) {
      currentRequest.abort();
    }
    var controller = new AbortController();
    currentRequest = controller;
    var url = settings.stopsUrl + "?bbox=" + encodeURIComponent(bboxParam(map.getBounds()));
    container.setAttribute("aria-busy", "true");

    fetch(url, {
      signal: controller.signal,
      headers: { Accept: "application/geo+json, application/json" },
    })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          throw error;
        }
        throw new Error("Could not load stops: the server did not answer.");
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
      })
      .then(function (collection) {
        if (controller !== currentRequest) {
          return;
        }
        var drawn = drawFeatures(collection.features);
        if (collection.truncated) {
          var limit =
            typeof collection.limit === "number" ? " (showing " + collection.limit + ")" : "";
          showStatus("notice", "Too many stops here" + limit + ": zoom in to see all stops.");
        } else if (drawn === 0 && viewShowsAllOfSwitzerland()) {
          showStatus("empty", "No data published yet.");
        } else if (drawn === 0) {
          showStatus("empty", "No stops in this area.");
        } else {
          clearStatus();
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          return;
        }
        if (controller === currentRequest) {
          showStatus("error", error && error.message ? error.message : "Could not load stops.");
        }
      })
      .then(function () {
        if (controller === currentRequest) {
          container.removeAttribute("aria-busy");
          currentRequest = null;
        }
      });
  }

  map.on("moveend", function () {
    window.clearTimeout(debounceTimer);
    debounceTimer = window.setTimeout(loadStops, MOVE_DEBOUNCE_MS);
  });
  loadStops();

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
  loadBoundaries();
})();
