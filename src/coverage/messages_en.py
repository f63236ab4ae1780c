"""English message catalogue. Same ids and placeholders as :mod:`.messages_zh` (tested).
A problem id maps to (message, fix); other ids to one text. ``{column}`` is the user's own
column name."""

MESSAGES: dict[str, str | tuple[str, str]] = {
    # --- where a problem is, and the report around it ---------------------------------
    "severity.error": "ERROR",
    "severity.warning": "WARNING",
    "severity.info": "INFO",
    "where.line": "{severity}: {where}: {message}",
    "where.sep": ", ",
    "where.fix": " Fix: {fix}",
    "where.row": "row {row}",
    "where.row_line": "row {n}",
    "where.row_feature": "feature {n}",
    "where.row_id": " (id {id})",
    "where.column": "column '{name}'",
    "where.field": "field '{name}'",
    "problems.more": "... and {n} more",
    "problems.more_hint": " ({hint})",
    "problems.more_validate": "the full list: eldercare-coverage validate --all {config}",
    "problems.more_file": "the full list is in {path}",
    "problems.no_problems": "No problems found.",
    "problems.counts": "{errors} error(s), {warnings} warning(s).",
    "problems.nothing_written": "Nothing was written. Correct the input and run again.",
    "problems.interrupted": "Interrupted; nothing was written.",
    "hint.did_you_mean": " Did you mean '{name}'?",
    # --- run summary (summary.py) ------------------------------------------------------
    "summary.heading": "Results: {title}",
    "summary.coverage": "Older residents within a {limit:g}-minute walk ({speed:g} m/s): {within:,}, {share} of {total:,}.",
    "summary.coverage_district": "  {district}: {share} ({within:,} of {total:,})",
    "summary.no_access": "No walk network configured: walk coverage was not computed.",
    "summary.norms_heading": "Communities failing a norm (of {total}; norms: {profile}):",
    "summary.norm_area": "  too little facility floor area: {n} communities",
    "summary.norm_tier": "  missing the facility tier they need: {n} communities",
    "summary.norm_beds": "  too few beds: {n} communities",
    "summary.norm_stations": "  too few service stations: {n} communities",
    "summary.norm_capacity": "  too little service capacity: {n} communities",
    "summary.norms_all_met": "  every community meets every norm.",
    "summary.area_gap": "Total facility floor-area gap: {gap:,} m².",
    "summary.siting": "Siting ({model}): {n} new sites raise the walk coverage of {weight} from {before} to {after}, {added:,}{unit} more covered.",
    "summary.siting_status": "  Solver status: {status}; the sites may not be optimal.",
    "summary.site": "  {name} ({id}){tier}: lon {lon:.6f}, lat {lat:.6f}{web}; newly covers {new:,}{unit} {weight}",
    "summary.site_web": " ({system}: {lon:.6f}, {lat:.6f})",
    "summary.no_sites": "  No new site proposed.",
    "summary.left_out_heading": "Left out:",
    "summary.unreachable_demand": "  {weight} no existing facility or candidate site reaches within {limit:g} minutes: {n:,}{unit}, {share}; even a site on every candidate covers at most {max_share}.",
    "summary.off_network": "  Demand points off the network or only on a disconnected fragment (counted as not reached): {points} points, about {people:,} older residents, in {communities} communities:",
    "summary.off_network_row": "    {name} ({id}): {points} points ({off} farther than {max_m:g} m from a street, {frag} only on a fragment), about {people:,} older residents",
    "summary.fragment_row": "    fragment of {nodes} nodes / {length:,} m at lon {lon:.5f}, lat {lat:.5f}, near {community}",
    "summary.fragments": "  The network has {n} disconnected fragments; the largest:",
    "summary.nothing_left_out": "  Nothing: every demand point is on the main network.",
    "summary.more": "    ... and {n} more (the full list is in {path})",
    "summary.warnings": "{n} warning(s); the full list is in {path}.",
    "summary.outputs": "Outputs written to: {paths}",
    "summary.weight_elderly_population": "older residents",
    "summary.weight_population": "residents",
    "summary.weight_households": "households",
    "summary.unit_persons": "",
    "summary.unit_households": "",
    # --- config (config.py) --------------------------------------------------------------
    "config.walk_speed_unknown": (
        "walk_speed '{value}' is neither a preset nor a number.",
        "Use one of {presets} or a speed in m/s such as 0.9."),
    "config.value_out_of_range": (
        "{key} = {value} is outside the plausible range {bounds}.",
        "Give a value in {bounds}, e.g. {name} = {example}."),
    "config.value_nan": (
        "{key} = {value} is not a number (NaN).",
        "Give a value in {bounds}, e.g. {name} = {example}."),
    "config.file_not_found": (
        "file not found.",
        "Check the path in the config (relative paths are read from the config file's folder)."),
    "config.config_not_found": ("config file not found.", "Check the path you passed."),
    "config.path_link_loop": (
        "the path is a loop of symbolic links that never reaches a file.",
        "Point the path at the real file, or repair the links."),
    "config.path_unreadable": ("the path cannot be opened ({detail}).", "Check the path and its permissions."),
    "config.path_is_folder": ("the path is a folder, not a file.", "Give the path of the data file inside the folder."),
    "config.kind_fifo": "a named pipe (FIFO)",
    "config.kind_device": "a device",
    "config.kind_special": "not a regular file",
    "config.path_special": (
        "the path is {kind}, not a data file; it is not read, since reading it could block or never end.",
        "Give the path of a regular file (GeoJSON, GeoPackage, Shapefile, CSV, Excel or OSM)."),
    "config.config_not_utf8": ("config file is not UTF-8 text.", "Save it as UTF-8."),
    "config.config_not_toml": (
        "not valid TOML: {detail}.",
        "Correct the TOML syntax (quotes around text, [section] headers)."),
    "config.not_a_table": ("'{key}' must be a table (a [section]).", "Write [{key}] followed by its keys."),
    "config.unknown_key": (
        "unknown key '{key}'.{hint}",
        "Remove it or correct its spelling; known keys here: {known}."),
    "config.wrong_type": (
        "key '{key}' has the wrong type: got {got} {value}, expected {expected}.",
        "Write '{key}' as {expected}."),
    "config.language_unknown": ("study.language '{value}' is not supported.", "Use \"zh\" or \"en\"."),
    "config.gated_compounds_unknown": (
        "access.gated_compounds '{value}' is not supported.",
        "Use \"auto\" or \"off\"."),
    "config.street_buffer_ignored": (
        "access.street_buffer_m is ignored: isochrones now follow the access model (a street reached with r metres of walk left covers min(r, snap_max_m) around it).",
        "Remove street_buffer_m from the config."),
    "config.no_communities": (
        "no communities file is given.",
        "Add [inputs.communities] with path = \"your_communities.geojson\"."),
    "config.join_on_unknown": (
        "inputs.population.join_on '{value}' is not supported.",
        "Use \"community_id\" or \"name\"."),
    "config.siting_model_unknown": (
        "siting.model '{value}' is not known.",
        "Use lscp, partial, mclp, pmedian or pcenter (or leave it empty)."),
    "config.siting_weight_unknown": (
        "siting.weight '{value}' is not known.",
        "Use population, elderly_population or households."),
    "config.siting_method_unknown": ("siting.method '{value}' is not known.", "Use auto, exact or heuristic."),
    "config.facility_kind_unknown": ("access.facility_kinds names unknown kind '{value}'.", "Use some of {known}."),
    "config.siting_tier_unknown": ("siting.tiers names unknown tier '{value}'.", "Use some of {known}."),
    "config.siting_needs_p": ("siting.model '{model}' needs the number of new sites.", "Set siting.p, e.g. p = 5."),
    "config.mclp_needs_p_or_budget": (
        "siting.model 'mclp' needs p (number of new sites) or budget (CNY).",
        "Set siting.p = 5, or siting.budget = 3000000."),
    "config.accessibility_value_unknown": ("{key} '{value}' is not known.", "Use one of {known}."),
    "config.accessibility_bands": (
        "accessibility.bands_min must be increasing positive minutes with one non-negative weight each in accessibility.band_weights.",
        "e.g. bands_min = [5, 10, 15], band_weights = [1.0, 0.68, 0.22]"),
    "config.objective_needs_p": ("accessibility.objective needs the number of new sites.", "Set siting.p, e.g. p = 5."),
    "config.basemap_unknown": (
        "output.basemap '{value}' is not known.",
        "Use none (offline), osm, tianditu (with output.tianditu_key), amap, or a tile URL template with {{z}}/{{x}}/{{y}}."),
    "config.basemap_refused": (
        "output.basemap '{value}' uses Baidu (BD-09) or Tencent tiles, which cannot be lined up with the study's layers.",
        "Use none, osm, tianditu, amap or a WGS-84 / Web Mercator tile URL."),
    "config.tianditu_needs_key": ("output.basemap 'tianditu' needs a Tianditu key.", "Set output.tianditu_key."),
    # --- input files (io.py) -------------------------------------------------------------
    "io.csv_empty": ("the file is empty.", "Export the table again with a header row and data."),
    "io.csv_unreadable": ("cannot be read as CSV: {detail}.", "Save it as comma-separated text with one header row."),
    "io.csv_encoding": (
        "text encoding is none of {encodings}.",
        "Save the CSV as UTF-8, or set encoding = \"...\" for this input in the config."),
    "io.no_such_sheet": (
        "no sheet named '{sheet}'; the sheets are: {sheets}.{hint}",
        "Set layer = \"<sheet name>\" for this input."),
    "io.excel_unreadable": (
        "cannot be read as an Excel workbook ({detail}).",
        "Save it again as .xlsx from Excel or WPS."),
    "io.file_empty": ("the file is empty.", "Export the data again."),
    "io.no_rows": ("the table has a header but no rows.{sheets}", "Add the data rows."),
    "io.unsupported_type": (
        "unsupported file type '{suffix}'.",
        "Use GeoJSON, GeoPackage (.gpkg), Shapefile (.shp), CSV or Excel (.xlsx)."),
    "io.sheet_hint": " The workbook has {n} sheets ({sheets}) and the first, '{first}', was read; if the table is on another, set layer = \"<sheet name>\" for this input.",
    "io.shp_part_shx": "the shape index",
    "io.shp_part_dbf": "the attribute table",
    "io.shp_part_missing": (
        "the Shapefile's {ext} part ({part}) is missing beside it.",
        "Copy {name} into the same folder (a Shapefile is several files: .shp, .shx, .dbf, .prj), or export the layer as GeoPackage or GeoJSON."),
    "io.gpkg_layers": (
        "the GeoPackage has {n} layers ({layers}).",
        "Set layer = \"<name>\" for this input in the config."),
    "io.vector_unreadable": (
        "cannot be read as a spatial file ({detail}).",
        "Check the file opens in QGIS; export it again as GeoJSON or GeoPackage."),
    "io.no_features": ("the file has no features.", "Export the layer again with its features."),
    "io.wkt_column_missing": (
        "WKT column '{column}' not found; columns are: {columns}.{sheets}",
        "Set wkt_column to the column holding the geometry text."),
    "io.wkt_invalid": ("'{value}' is not valid WKT.", "Write e.g. POINT (104.07 30.77)."),
    "io.no_coordinate_columns": (
        "no coordinate columns found (looked for lon/lat, 经度/纬度, x/y or a WKT column); columns are: {columns}.{sheets}",
        "Set x_column and y_column (or wkt_column) for this input in the config."),
    "io.coordinates_not_numbers": (
        "coordinates '{x}', '{y}' are not numbers.",
        "Give decimal coordinates, e.g. 104.0712 and 30.7701."),
    "io.more_rows": ("and {n} more rows with the same problem.", "Correct them as the rows above."),
    "io.required_column_missing": (
        "required column '{name}' is missing; columns are: {columns}.{sheets}",
        "Add it, or map your column in the config: [inputs.{layer}.columns] {name} = \"<your column>\"."),
    "io.mapping_key_unknown": (
        "the config maps unknown column '{key}' for {layer}; it would be ignored.{hint}",
        "Use one of: {known} ([inputs.{layer}.columns] canonical name = \"<your column>\")."),
    "io.mapped_column_missing": (
        "column '{column}' (mapped to {key}) is not in the file; columns are: {columns}.{hint}{sheets}",
        "Correct inputs.{layer}.columns.{key} in the config."),
    "io.estate_type_unknown": ("estate type '{value}' is not known.", "Write new / existing (or 新建 / 既有)."),
    "io.empty_value": "(empty)",
    "io.kind_unknown": ("facility kind '{value}' is not known.", "Use one of {known}."),
    "io.in_unit": " in {unit}",
    "io.number_ambiguous": (
        "'{value}' is an ambiguous number format (only 1,234,567 style thousands separators are read).",
        "Give {column} as a plain number{unit}, e.g. 1234 or 1234.5, with '.' for decimals."),
    "io.not_a_number": ("'{value}' is not a number.", "Give {column} as a number{unit}."),
    "io.number_empty": ("{column} is empty.", "Fill in {column} for every row."),
    "io.number_negative": ("{column} is negative ({value}).", "Give {column} as 0 or more."),
    "io.number_infinite": ("{column} is not finite ('{value}').", "Give a real value."),
    "io.number_implausible": (
        "{column} {value} is implausibly large (above {ceiling} {unit}).",
        "Check for an extra digit, a total row, or a figure in the wrong unit; give this row's own value."),
    "io.fractional_count": (
        "{n} row(s) give a fractional {column} (first: {value}); counts of people are whole numbers.",
        "Round the figures, or check the column holds counts, not shares or averages."),
    "io.id_empty": ("{column} is empty.", "Give every row a unique {column}."),
    "io.id_duplicate": ("{column} '{value}' is used by {n} rows ({rows}).", "Make {column} unique."),
    "io.crs_unknown": (
        "CRS '{value}' is not known.",
        "Use an EPSG code like \"EPSG:4326\", \"EPSG:4547\", or \"GCJ-02\" / \"BD-09\"."),
    "io.crs_overridden": (
        "the file declares {declared}; the config's crs \"{value}\" overrides it.",
        "Remove crs from the config for this input if the file's own CRS is right."),
    "io.no_crs": (
        "the file declares no coordinate system.",
        "Set crs = \"EPSG:4326\" (or your CRS, or \"GCJ-02\" for Amap/Tencent coordinates, \"BD-09\" for Baidu) for this input in the config."),
    "io.no_crs_shp": (
        "the Shapefile has no .prj part, so it declares no coordinate system.",
        "Copy the .prj beside the .shp, or set crs = \"EPSG:4326\" (or your CRS, or \"GCJ-02\" for Amap/Tencent coordinates, \"BD-09\" for Baidu) for this input in the config."),
    "io.degrees_declared_projected": (
        "coordinates ({extent}) look like longitude/latitude degrees, but the projected CRS {label} is declared.",
        "Declare crs = \"EPSG:4326\" (or \"GCJ-02\" for Amap coordinates) for this input."),
    "io.projected_declared_degrees": (
        "coordinates ({extent}) are not longitude/latitude degrees, but {label} is declared.",
        "Declare the projected CRS the coordinates are in (e.g. crs = \"EPSG:4547\")."),
    "io.lonlat_swapped": (
        "longitude and latitude look swapped ({x}, {y}; {label} declared).",
        "Swap the values of the x/lon and y/lat columns in this row (or set x_column / y_column)."),
    "io.not_lonlat": (
        "({x}, {y}) is not a longitude/latitude pair ({label} declared).",
        "Correct the coordinates of this row."),
    "io.geometry_empty": ("the geometry is empty.", "Draw the feature or give its coordinates."),
    "io.polygons_repaired": (
        "{n} invalid polygon(s) repaired with make_valid (e.g. {example}).",
        "Check them in QGIS (Vector > Geometry Tools > Check Validity)."),
    "io.polygon_unrepairable": (
        "the polygon is invalid and cannot be repaired (it has no area).",
        "Redraw the boundary."),
    "io.community_not_polygon": (
        "community boundaries must be polygons, this is a {kind}.",
        "Give community boundaries as Polygon or MultiPolygon features."),
    "io.polygons_as_points": ("{n} {layer} given as polygons are placed at a point inside each.", ""),
    "io.not_a_point": ("{layer} must be points (or polygons), this is a {kind}.", "Give each as a point."),
    "io.above_population": (
        "{column} ({value}) exceed the population, {population_column} ({population}).",
        "Check the columns are not swapped and {column} is a count, not a percentage."),
    "io.join_column_missing": (
        "the join column '{key}' is missing.",
        "Add it or map it: [inputs.population.columns] {key} = \"<your column>\"."),
    "io.join_names_duplicate": (
        "{n} communities are named '{value}' ({rows}), so the population table cannot be joined to them by name.",
        "Join on community_id (inputs.population.join_on = \"community_id\") or make the names unique."),
    "io.population_without_boundary": (
        "{column} '{value}' has no community boundary; its population is not analysed.",
        "Add the boundary to {boundaries} or correct the {column}."),
    "io.boundary_without_population_row": (
        "community {column} '{value}' is not in the population table; the boundary file's own figures are used.",
        "Add a row for it to {table}."),
    "io.boundary_without_population": (
        "community {column} '{value}' is not in the population table and has no population of its own.",
        "Add a row for it to {table} or correct the {column}."),
    "io.population_missing": (
        "population is empty (neither the boundary file nor the population table gives it).",
        "Fill in the population, or give it in the population table."),
    "io.outside_extent": (
        "lies {km} km outside the communities' extent (allowed: {allowed} km): coordinates probably in another CRS.",
        "Check the declared crs (GCJ-02 / BD-09 / WGS-84) and the lon/lat columns, or raise study.extent_margin_m."),
    "io.facility_community_unknown": (
        "{column} '{value}' names no community; the facility is assigned to the community polygon it lies in instead.",
        "Correct the {column} or leave it empty."),
    "io.metric_crs_invalid": (
        "study.metric_crs '{value}': {detail}.",
        "Use \"auto\" or a projected CRS such as \"EPSG:32648\"."),
    "io.other_geometry_unused": ("{n} {what} features of another geometry type are not used.", ""),
    "io.what_boundary": "boundary (lines and polygons are drawn)",
    "io.what_building": "building (points and polygons are used)",
    "io.what_gate": "gate (points are used)",
    "io.levels_not_numbers": (
        "{n} building(s) give levels that are not a number (first: '{value}'); they count as one level.",
        "Give levels as a number, e.g. 18."),
    # --- metric CRS (crs.py) and layer names ---------------------------------------------
    "crs.metric_configured": ("metric CRS {name} ({value}), as set by study.metric_crs.", ""),
    "crs.metric_auto": (
        "metric CRS {name} (EPSG:{epsg}): the UTM zone of the median centre of the {what} ({lon}, {lat}); {inside} of {total} {what} lie in it.{outside}",
        ""),
    "crs.metric_outside": " The {n} outside it are far from the rest or the study spans zones; set study.metric_crs (e.g. the CGCS2000 3-degree zone) to choose another.",
    "layer.communities": "communities",
    "layer.population": "population table",
    "layer.facilities": "facilities",
    "layer.candidates": "candidates",
    "layer.buildings": "buildings",
    "layer.districts": "district boundaries",
    "layer.gates": "compound gates",
    "layer.demand_points": "demand points",
    "layer.features": "features",
    # --- geometry and CRS checks (checks.py) ---------------------------------------------
    "checks.kind_duplicate": "duplicate",
    "checks.kind_nested": "nested",
    "checks.kind_overlap": "overlap",
    "checks.more_pairs": ("and {n} more pairs of communities ({kind}).", "Correct them as the pairs above."),
    "checks.same_boundary": (
        "has the same boundary as community '{id}' ({where}): {share} of each lies inside the other, so their residents would be counted twice.",
        "Delete the duplicate feature, or merge the two into one community with one population."),
    "checks.nested": (
        "lies inside community '{id}' ({where}): {share} of its area is covered by the larger one, whose population probably counts these residents too.",
        "Delete one of the two, or cut the inner compound out of the outer boundary, so every resident is counted once."),
    "checks.overlap": (
        "overlaps community '{id}' ({where}) by {ha} ha, {share} of the smaller of the two; residents in the overlap are counted in both.",
        "Correct the shared boundary (QGIS: Vector > Geometry Tools > Check Validity, or the Topology Checker), so the polygons do not overlap."),
    "checks.far_feature": (
        "lies {km} km from the median centre of the {layer} ({centre}), far beyond the rest of them (flagged beyond {limit} km): probably wrong coordinates. It stays in the analysis, but the metric CRS follows the bulk of the study.",
        "Check this feature's coordinates (swapped or mistyped longitude/latitude, another CRS) or remove it."),
    "checks.more_far": ("and {n} more {layer} far from the rest.", "Check them as the rows above."),
    "checks.system_wgs84": "WGS-84 (GPS, OpenStreetMap)",
    "checks.system_gcj02": "GCJ-02 (Amap/Gaode, Tencent)",
    "checks.system_bd09": "BD-09 (Baidu)",
    "checks.measure_points": "median distance to the nearest street",
    "checks.measure_polygons": "mean street length crossing a community's interior",
    "checks.off_streets": (
        "the {layer} sit off the streets in one direction: their coordinates look like {looks}, but {declared_name} is declared. Read as {best} they move {shift} and fit the street network far better ({measure}: {now} m as declared, {then} m as {best}). Walk times and coverage computed with the declared system are wrong.",
        "Set crs = \"{best}\" under [inputs.{key}] in the config (and for every other input taken from the same map service), then run again."),
    "checks.off_streets_wgs84": (
        "the {layer} sit off the streets in one direction: their coordinates look like {looks}, but {declared_name} is declared. Read as {best} they move {shift} and fit the street network far better ({measure}: {now} m as declared, {then} m as {best}). Walk times and coverage computed with the declared system are wrong.",
        "Remove crs = \"{declared}\" from [inputs.{key}] in the config (the coordinates are WGS-84 already)."),
    "checks.shift": "about {m} m {direction}",
    "checks.dir_e": "east",
    "checks.dir_ne": "north-east",
    "checks.dir_n": "north",
    "checks.dir_nw": "north-west",
    "checks.dir_w": "west",
    "checks.dir_sw": "south-west",
    "checks.dir_s": "south",
    "checks.dir_se": "south-east",
    # --- norm profiles (norms.py) --------------------------------------------------------
    "profile.moved_walk_speed": "the walking speed is the study's: set [access] walk_speed in the study config",
    "profile.moved_service_radius": "write [access] distance_m (network walking distance, m)",
    "profile.extends_cycle": (
        "profile '{name}' extends itself through a cycle.",
        "Remove one 'extends' from the chain."),
    "profile.unknown": ("unknown norm profile '{name}'.", "Use one of: {known} (see `eldercare-coverage profiles`)."),
    "profile.file_not_found": ("norm profile file not found.", "Check the path given as [norms] profile_file."),
    "profile.not_utf8": ("norm profile is not UTF-8 text.", "Save the file as UTF-8."),
    "profile.not_toml": (
        "not valid TOML: {detail}.",
        "Correct the TOML syntax (quotes around text, [section] headers, numbers without units)."),
    "profile.tiers_not_table": (
        "'tiers' must be a table of [tiers.<kind>] sections.",
        "Write e.g. [tiers.day_care_centre] with min_population = 10000."),
    "profile.tier_unknown": ("unknown tier '{kind}'.", "Use one of: {known}."),
    "profile.key_moved": ("key '{key}' is no longer a profile key.", "Remove it: {instead}."),
    "profile.cite_not_table": (
        "'cite' must be a table of [cite.\"<key>\"] sections.",
        "Write e.g. [cite.\"land.per_resident_m2\"] with clause = \"…\" and quote = \"…\"."),
    "profile.value_text": (
        "key '{key}' has the value {value}; expected text.",
        "Write it in quotes, e.g. {name} = \"…\"."),
    "profile.value_bool": (
        "key '{key}' has the value {value}; expected true or false.",
        "Write true or false without quotes."),
    "profile.value_number": (
        "key '{key}' has the value {value}; expected a number.",
        "Write a plain number without quotes or units, e.g. {name} = 0.1."),
    "profile.value_positive": (
        "key '{key}' has the value {value}; expected a number above 0.",
        "Give a positive number."),
    "profile.value_nonnegative": (
        "key '{key}' has the value {value}; expected a number of 0 or more.",
        "Give 0 (rule not applied) or a positive number."),
    "profile.value_speed": (
        "key '{key}' has the value {value}; expected a walking speed between 0.1 and 3.0 m/s.",
        "Give metres per second, e.g. 0.9."),
    "profile.value_share": (
        "key '{key}' has the value {value}; expected a share above 0 and at most 1.",
        "Give a fraction, e.g. 0.15 for 15 %."),
    "profile.value_choice": (
        "key '{key}' has the value {value}; expected one of {options}.",
        "Write one of {options} in quotes."),
    "profile.value_list": (
        "key '{key}' has the value {value}; expected a list drawn from {allowed}.",
        "Write e.g. {name} = [\"{first}\"]."),
    "profile.distance_and_time": (
        "the profile sets both access.distance_m and access.time_limit_min.",
        "Keep the one the source states (a walking distance or a walk time)."),
    "profile.tier_bands_order": (
        "tiers.{hi}.min_population ({hi_value}) is not above tiers.{lo}.min_population ({lo_value}).",
        "A higher tier must start at a larger population; correct one of the two."),
    "profile.tier_area_order": (
        "tiers.{kind}: min_floor_area_m2 is above max_floor_area_m2.",
        "Swap or correct the two figures."),
    "profile.recipients_order": (
        "service_capacity.recipients_per_facility_min is above recipients_per_facility_max.",
        "Swap or correct the two figures."),
    "profile.value_no_tier_rule": "no tier rule in profile",
    "profile.value_population_unknown": "population unknown",
    "profile.value_no_resident_rule": "no per-resident floor-area rule in profile",
    "profile.value_no_household_rule": "no per-household rule in profile",
    "profile.value_no_land_rule": "no land rule in profile",
    "profile.value_no_capacity_rule": "no service capacity rule in profile",
    "profile.value_households_unknown": "households unknown",
    "profile.value_no_area_rule_applies": "no floor-area rule applies",
    "profile.value_not_applicable": "not applicable: {rule}",
    "value.yes": "yes",
    "value.no": "no",
    "value.none": "— (not applicable)",
    # --- output folders (outputs.py) -----------------------------------------------------
    "outputs.broken_link": "{path} is a broken symbolic link.",
    "outputs.folder_is_file": "the output folder {folder} is a file, not a folder.",
    "outputs.folder_under_file": "the output folder {folder} lies under {path}, which is a file, not a folder.",
    "outputs.folder_not_writable": "the output folder cannot be written (permission denied or read-only).",
    "outputs.parent_not_writable": "{path}, where the output folder {folder} would be created, cannot be written (permission denied or read-only).",
    "outputs.fix_out_folder": "Name a folder you can write (it is created if missing).",
    "outputs.fix_writable_folder": "Choose another output folder ([output] data_dir, reports_dir, maps_dir, or --out DIR) that is a folder you can write.",
    "outputs.output_folder": ("{problem}", "{fix}"),
    "outputs.cannot_write": (
        "the output folder cannot be written: {detail}.",
        "Choose another output folder ([output] or --out DIR) on a writable disk."),
    "outputs.is_input": (
        "is an input of this study and would be overwritten by an output.",
        "Choose another output folder ([output] data_dir, reports_dir, maps_dir, or --out DIR) than the one holding your input files, or rename the input."),
    "outputs.would_replace_folder": (
        "an output would replace this folder or special file, which this study did not write.",
        "Choose another output folder ([output] data_dir, reports_dir, maps_dir, or --out DIR), or move or delete the file if it is yours and not needed."),
    "outputs.changed_since": (
        "was changed after study '{study}' wrote it; a new run would overwrite your changes.",
        "Move the file elsewhere (or rename it) to keep it, or delete it, and run again."),
    "outputs.other_study": (
        "belongs to study '{study}', which writes to the same folder; this study will not overwrite it.",
        "Give each study its own output folders ([output] data_dir, reports_dir, maps_dir, or --out DIR)."),
    "outputs.not_ours": (
        "exists and was not written by this study; it will not be overwritten.",
        "Choose another output folder ([output] data_dir, reports_dir, maps_dir, or --out DIR), or move or delete the file if it is yours and not needed."),
    "outputs.cross_device": "a file could not be moved across filesystems (cross-device link)",
    "outputs.publish_failed_restored": (
        "publishing the outputs failed: {what}. Every output folder was restored to its state before this run.",
        "Check that every output folder is on a writable disk with free space (or choose others with [output] or --out DIR), and run again."),
    "outputs.publish_failed_kept": (
        "publishing the outputs failed: {what}. Some earlier files could not be put back; they are kept in {kept} (folder 'backup'), and the next run into these folders puts them back.",
        "Check that every output folder is on a writable disk with free space (or choose others with [output] or --out DIR), and run again."),
    # --- run stages (pipeline.py) --------------------------------------------------------
    "pipeline.sample_missing": (
        "the embedded sample is missing from this installation.",
        "Reinstall eldercare-coverage, or pass your own study config: eldercare-coverage run study.toml"),
    "pipeline.candidates_empty": "{path} has none",
    "pipeline.candidates_unset": "[inputs.candidates] is not set",
    "pipeline.no_candidates": (
        "siting.model '{model}' has no candidate sites to choose from ({where}), so coverage cannot improve: no new sites will be proposed.",
        "Give candidate sites in [inputs.candidates] path, or remove siting.model for a coverage-only run."),
    "pipeline.p_above_candidates": (
        "siting.p = {p} new sites, but there are only {n} candidate sites (in {path}).",
        "Set siting.p to at most {n}, or add candidate sites."),
    "pipeline.profile_sets_limit": (
        "norm profile '{profile}' sets the walk limit: {explain}; walk access uses {minutes} minutes ({metres} m), not [access] time_limit_min = {configured}.",
        "To plan on another limit, use a profile file that extends this profile and sets [access] time_limit_min or distance_m."),
    "pipeline.facilities_without_supply": (
        "{n} facilities have no {supply} (e.g. {examples}); they add no supply to accessibility.",
        "Give {supply} for every facility or set accessibility.supply to another column."),
    "pipeline.points_without_demand": (
        "{n} demand points have no {demand}; they count as no demand in accessibility.",
        "Give {demand} for every community or set accessibility.demand = \"residents\"."),
    "pipeline.no_candidate_area": (
        "accessibility after new sites is not computed: candidates supply only floor area (max_floor_area_m2), and none has one.",
        "Set accessibility.supply = \"floor_area\" and give candidates a max_floor_area_m2 column."),
    "pipeline.candidates_supply_area": (
        "accessibility after new sites is not computed: candidates supply only floor area (max_floor_area_m2), not {supply}.",
        "Set accessibility.supply = \"floor_area\" and give candidates a max_floor_area_m2 column."),
    "pipeline.candidates_median_area": (
        "{n} candidates have no max_floor_area_m2; for accessibility they take the median known area.",
        "Give every candidate its max_floor_area_m2."),
    "pipeline.network_distance": " ({metres} m of network walking distance)",
    "pipeline.profile_limit_differs": (
        "norm profile '{profile}' plans on a {minutes}-minute walk{distance} at {speed} m/s, but walk access was computed for {used} minutes.",
        "Compute access on apply_profile_walk_limit(study) to follow the profile (`run` does), or set [access] time_limit_min."),
    "pipeline.no_candidate_for_tiers": (
        "no candidate may host any of siting.tiers ({tiers}) (their kind column names other tiers).",
        "Add those tiers to siting.tiers or blank the candidates' kind."),
    "pipeline.capacitated_needs_area": (
        "siting.capacitated needs the norm profile's floor area (建筑面积) per resident to turn floor area into capacity; profile '{profile}' has none (land per resident, 用地, is not floor area).",
        "Use a profile with [area] per_resident_m2 (e.g. lhasa) or set capacitated = false."),
    "pipeline.points_without_weight": (
        "{n} demand points have no {weight}; they weigh 0 in siting.",
        "Give {weight} for every community or set siting.weight = \"population\"."),
    "pipeline.budget_without_costs": (
        "siting.budget is set but no candidate has a cost and no tiers (with their costs) are given, so the budget cannot be applied.",
        "Give candidates a cost column, or set siting.tiers (costs from the norm profile), or use siting.p instead of a budget."),
    "pipeline.siting_options": ("siting: {detail}", "Correct the [siting] section of the config."),
    "pipeline.siting_status": (
        "siting ({model}) ended with status '{status}'{detail}; the proposed sites may be missing or not optimal.",
        "Relax the [siting] targets (p, budget, min_district_share, target_share) or raise siting.time_limit_s."),
    "pipeline.no_browser": (
        "no static PNG of the map: no Chromium-family browser was found.",
        "Install Chromium (bash scripts/setup_browser.sh) or set output.png = false."),
    # --- demand grid (demand.py) ---------------------------------------------------------
    "demand.grid_too_large": (
        "a demand grid with access.grid_spacing_m = {spacing} m would hold about {estimate} points over {area} km² of community bounding boxes (about {gib} GiB while built), above access.max_demand_points = {max_points}.",
        "Set access.grid_spacing_m to {suggest} m or more (50 m is the default; now {spacing} m), give a building layer (inputs.buildings), or raise access.max_demand_points if the machine has the memory."),
    # --- spreadsheet cells (_safe_cells.py) ----------------------------------------------
    "cells.control_replaced": (
        "control characters that Excel files cannot hold were replaced by U+FFFD (�) in sheet '{sheet}', cell {cell}{header}{more}.",
        "Remove the control characters (often pasted from Word) from the input file."),
    "cells.header": " ({name})",
    "cells.more": " and {n} other cell(s)",
    # --- command line (cli.py) -----------------------------------------------------------
    "cli.internal_error": "Internal error: {error}",
    "cli.rerun_verbose": "Rerun with --verbose for the traceback, and please report it.",
    # --- walk access (access.py) ---------------------------------------------------------
    "reach.fragment_snap_item": "{id}: {n} point(s), up to {m} m",
    "reach.more_communities": " and {n} more communities",
    "reach.fragment_snaps": (
        "{n} home point(s) lie nearest to a disconnected street fragment and reach the main network only by a longer straight walk ({listing}{more}). The extra distance is in the demand layer's fragment_extra_m column.",
        "Check the OSM data there for a missing footway link; access.fragment_max_extra_m sets how much farther the toolkit may look before counting a point as fragment-only."),
    "reach.no_gates": (
        "no compound gate lies on any community boundary, so gated compounds are not modelled: every home uses its nearest street.",
        "Add the gates (小区出入口) as an [inputs.gates] point layer, or map them in OSM (barrier=gate / entrance=*); set access.gated_compounds = \"off\" to silence this."),
    "reach.ungated": (
        "{n} communit(ies) have no known usable gate, so their homes use the nearest street as before: {ids}.",
        "Add their gates (小区出入口) as an [inputs.gates] point layer, or map them in OSM (barrier=gate / entrance=*)."),
    "reach.off_network": (
        "{n} point(s) farther than {m} m from any street (e.g. {examples}); they count as not reached.",
        "Check their coordinates/CRS, or raise access.snap_max_m if streets are missing from the OSM data."),
    "reach.fragment_only": (
        "{n} point(s) only reach a disconnected network fragment (e.g. {examples}); they count as not reached.",
        "Check the OSM data near them for a missing footway link."),
    # --- walk network (network.py) -------------------------------------------------------
    "network.fragment_item": "{nodes} nodes / {m} m near lon {lon}, lat {lat}",
    "network.fragments": (
        "{n} disconnected network fragment(s) besides the main part ({main} nodes); largest: {listing}. Analysis uses the main part; points that only reach a fragment are listed as fragment-only.",
        "Usually harmless (private compounds, bits cut by the clip). If a fragment is large, check the OSM data for a missing link or widen the network margin."),
    "network.not_found": ("walk network file not found.", "Check inputs.network.path in the config."),
    "network.unknown_format": (
        "unknown walk network format.",
        "Give an OpenStreetMap .osm, .osm.bz2 or .osm.pbf file, or a .graphml graph."),
    "network.unreadable": (
        "cannot read the walk network: {detail}.",
        "Check that the file is a complete OpenStreetMap export (.osm/.osm.bz2/.osm.pbf) or GraphML written by osmnx."),
    "network.no_streets": (
        "no walkable streets in the study area.",
        "Check that the network file covers the study area and the CRS of the inputs."),
    "network.graphml_no_xy": (
        "{n} of {total} nodes lack the coordinate attribute(s) {missing} (e.g. node {first}); node attributes found: {found}.",
        "Give every node x (longitude or easting) and y (latitude or northing), and the graph a crs attribute, as osmnx's save_graphml writes them; or give the OpenStreetMap file instead."),
    "network.download_failed": (
        "downloading the walk network failed: {detail}.",
        "Check the internet connection, or download an extract (e.g. from Geofabrik) and set inputs.network.path."),
    # --- maps (maps.py) ------------------------------------------------------------------
    "maps.layer_without_crs": (
        "The {layer} layer has no coordinate reference system, so it cannot be placed on the map.",
        "Load it through eldercare_coverage.io (which assigns the study CRS) or call .set_crs(...) on it."),
    "maps.basemap_refused": (
        "Basemap '{name}' is a Baidu (BD-09, own tile grid) or Tencent (GCJ-02, flipped tile rows) service; its tiles are offset from WGS-84 by 100-700 m in a way this map cannot line the study's communities, facilities and isochrones up with.",
        "Use basemap 'none' (offline), 'osm', 'tianditu' (with a Tianditu key), 'amap' (overlays are shifted to GCJ-02) or a custom WGS-84 / Web Mercator tile URL."),
    "maps.basemap_unknown_amap": ("Unknown basemap '{name}'.", "Use 'amap' for Amap/Gaode street tiles."),
    "maps.tianditu_needs_key": (
        "Basemap 'tianditu' needs a Tianditu API key (tk).",
        "Pass tianditu_key=... (a free key from the Tianditu developer console) or use basemap 'none' or 'osm'."),
    "maps.basemap_unknown": (
        "Unknown basemap '{name}'.",
        "Use 'none' (default, offline), 'osm', 'tianditu', 'amap', or a tile URL with {{z}}, {{x}} and {{y}}."),
    "maps.language_unknown": ("Unknown map language '{value}'.", "Use 'zh' (default) or 'en'."),
    # --- run stages, continued (pipeline.py) ---------------------------------------------
    "pipeline.siting_needs_network": (
        "siting needs walk access: no network is configured, so no sites are proposed.",
        "Set [inputs.network] path."),
    # --- units of input columns ------------------------------------------------------
    "unit.persons": "persons",
    "unit.households": "households",
    "unit.beds": "beds",
    "unit.m2": "m²",
    "unit.cny": "CNY",
    # --- run summary: compound gates (summary.py) ----------------------------------------
    "summary.gate_effect": "Compound gates: with {gates} gates (open as at {hour}) that share is {with_gates}; without gates (every home on its nearest street) it would be {without}, a difference of {change} percentage points.{note}",
    "summary.gate_note_illustrative": " {n} of the {total} gates given are illustrative (not surveyed).",
    "summary.gate_ungated": "  {n} compounds have no known usable gate: their homes still use the nearest street (listed in the report).",
    # --- stage lines of a run (pipeline.py) ----------------------------------------------
    "stage.load": "load and validate inputs",
    "stage.write_inputs": "write validated inputs",
    "stage.network": "walk network",
    "stage.access": "walk access",
    "stage.norms": "norm checks",
    "stage.accessibility": "accessibility",
    "stage.siting": "siting",
    "stage.siting_phases": "siting phases",
    "stage.accessibility_tables": "accessibility tables and new sites",
    "stage.map": "map",
    "stage.reports": "reports",
    # --- progress bars (progress.py) -----------------------------------------------------
    "progress.walk_times": "walk times",
    "progress.isochrones": "isochrones",
    # --- walk costs: steps and slopes (config.py, walkcost.py) ---------------------------
    "config.steps_factor_invalid": (
        "access.steps_speed_factor = {value} is neither \"auto\" nor a share of the walk speed in (0, 1].",
        "Use \"auto\" (the walk-speed preset's factor) or e.g. 0.5."),
    "config.dem_crs_without_path": (
        "inputs.dem.crs is set but no DEM path is given; slopes are not modelled.",
        "Set [inputs.dem] path, or remove crs."),
    "dem.no_rasterio": (
        "reading a DEM needs the rasterio package, which is not installed.",
        "pip install \"eldercare-coverage[dem]\", or remove [inputs.dem]."),
    "dem.unreadable": (
        "cannot read the DEM: {detail}.",
        "Give a GeoTIFF elevation model (metres above sea level) covering the study area."),
    "dem.all_nodata": (
        "the DEM has no elevation values (all nodata) over the study area.",
        "Give a DEM with elevations over the study area."),
    "dem.values_range": (
        "DEM values range from {low} to {high}, outside {lo}..{hi} m: not elevations in metres "
        "(a different band, units in feet, or a scaled product?).",
        "Give a single-band elevation model in metres above sea level."),
    "dem.values_void": (
        "DEM values range from {low} to {high}, outside {lo}..{hi} m: not elevations in metres "
        "(a different band, units in feet, or a scaled product?).",
        "Give a single-band elevation model in metres above sea level. If {low} marks missing cells, declare it "
        "as the file's nodata value (gdal_translate -a_nodata {low} in.tif out.tif)."),
    "dem.crs_unknown": (
        "inputs.dem.crs '{value}' is not a coordinate system pyproj knows.",
        "Give an EPSG code such as \"EPSG:4326\" or \"EPSG:32648\"."),
    "dem.no_crs": (
        "the DEM declares no coordinate system.",
        "Set [inputs.dem] crs (e.g. \"EPSG:4326\" for longitude/latitude), or save the DEM as a GeoTIFF with its CRS."),
    "dem.no_overlap": (
        "the DEM does not overlap the study area: its extent is ({extent}) and the study area ({area}), both in "
        "the DEM's CRS {crs}.",
        "Check that the DEM covers the study area and that its CRS is right; if the file declares a wrong CRS, "
        "set [inputs.dem] crs."),
    "dem.partial": (
        "the DEM covers only {share} of the study area (DEM extent ({extent}), study area ({area}) in {crs}).",
        "Give a DEM (or a mosaic) covering the whole study area."),
    "dem.holes": (
        "{km} km of {total_km} km of walk network ({edges} edges) lie over DEM nodata holes or beyond the DEM; "
        "those pieces are walked at the flat speed.",
        "Fill the holes (e.g. gdal_fillnodata) or give a DEM covering the network's margin."),
    # --- phased siting plans (config.py) -------------------------------------------------
    "config.phases_model": (
        "siting.phases works with the plain mclp and pmedian models, not '{model}' (or not with capacities "
        "or district minimums).",
        "Set siting.model = \"mclp\" or \"pmedian\" without capacitated / min_district_share, or remove "
        "siting.phases."),
    "config.phases_not_increasing": (
        "siting.phases must be increasing whole numbers of new sites ≥ 1, got {value}.",
        "e.g. phases = [2, 5, 10] (cumulative sites after each phase)."),
    "config.phases_with_budget": (
        "siting.phases plans phases by number of new sites and cannot be combined with siting.budget: the "
        "phased plans would not respect the budget.",
        "Remove siting.budget and give the counts with siting.p and phases, or remove siting.phases."),
    "config.compute_scheduler_unknown": (
        "compute.scheduler '{value}' is not known.",
        "Use \"local\", \"processes\" or the address of a Dask scheduler (\"tcp://host:8786\")."),
    "config.compute_tiling_unknown": ("compute.tiling '{value}' is not known.", "Use auto, none, district or grid."),
    "config.tiles_need_pyarrow": (
        "tiles (compute.tiling = \"{value}\") write their results as GeoParquet, which needs pyarrow, not installed.",
        "pip install 'eldercare-coverage[cluster]', or set tiling = \"none\"."),
    "config.compute_needs_dask": (
        "[compute] scheduler = \"{value}\" needs Dask, which is not installed.",
        "pip install 'eldercare-coverage[cluster]', or set scheduler = \"local\"."),
    "pipeline.worker_missing_package": (
        "a Dask worker lacks the Python package '{package}', so it cannot compute the tiles.",
        "Install the same environment as here on every worker machine (with a DEM: pip install "
        "'eldercare-coverage[cluster,dem]') and restart the dask workers."),
    "pipeline.tile_cache_in_the_way": (
        "this folder is in the way of the study's tile cache and was not written by this study, so it is left alone.",
        "Move or rename it, or choose another [output] data_dir."),
    # --- solver notes on a siting result (siting/*.py; SitingResult.notes) -------------
    "solver.group_share_unreachable": "The minimum share is unreachable in {groups}; those groups are asked for everything reachable.",
    "solver.target_unreachable": "Target share {target:.0%} is unreachable; the most any choice of sites covers is {reachable:.1%}, used instead.",
    "solver.equity_implied": "Equity rows are implied by the LSCP (it covers every reachable point).",
    "solver.unserved_penalty": "Demand out of reach of every open site counts {minutes:g} minutes.",
    "solver.pcenter_unreachable_left_out": "Points beyond every site's limit are left out of the p-center objective.",
    "solver.pmedian_lagrangian_proof": "Heuristic {heuristic:.6g}, Lagrangian bound {bound:.6g}; the heuristic is proven optimal by the Lagrangian bound.",
    "solver.pmedian_radius_milp": "Heuristic {heuristic:.6g}, Lagrangian bound {bound:.6g}; radius MILP: {status}.",
    "solver.repair_failed": "The repair could not give every group its minimum share; use method='exact' to decide whether any choice can.",
    "solver.exact_stopped": "The exact solver stopped ({status}, objective {objective:.6g}, bound {bound:.6g}); heuristic objective {heuristic:.6g}, Lagrangian bound {heuristic_bound:.6g}.",
    "solver.benders": "Benders decomposition: {lp_rounds} LP and {mip_rounds} MIP master solves (last: {last}), {cuts} cuts, {closed} sites closed by reduced costs; LP bound {lp_bound:.6g}.",
    "solver.nothing_to_add": "No candidate site adds coverage: reachable demand is already covered or none is reachable.",
}
