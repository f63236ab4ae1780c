"""Chinese message catalogue (the default language). Same ids and placeholders as
:mod:`.messages_en` (tested). A problem id maps to (message, fix); other ids to one text.
``{column}`` is the user's own column name."""

MESSAGES: dict[str, str | tuple[str, str]] = {
    # --- where a problem is, and the report around it ---------------------------------
    "severity.error": "错误",
    "severity.warning": "警告",
    "severity.info": "说明",
    "where.line": "{severity}：{where}：{message}",
    "where.sep": "，",
    "where.fix": "修改方法：{fix}",
    "where.row": "第 {row} 行",
    "where.row_line": "第 {n} 行",
    "where.row_feature": "第 {n} 个要素",
    "where.row_id": "（编码 {id}）",
    "where.column": "列「{name}」",
    "where.field": "字段「{name}」",
    "problems.more": "……另有 {n} 项",
    "problems.more_hint": "（{hint}）",
    "problems.more_validate": "完整列表：eldercare-coverage validate --all {config}",
    "problems.more_file": "完整列表见 {path}",
    "problems.no_problems": "未发现问题。",
    "problems.counts": "{errors} 个错误，{warnings} 个警告。",
    "problems.nothing_written": "未写入任何文件。请修改输入后重新运行。",
    "problems.interrupted": "已中断，未写入任何文件。",
    "hint.did_you_mean": "是否应为「{name}」？",
    # --- run summary (summary.py) ------------------------------------------------------
    "summary.heading": "结果：{title}",
    "summary.coverage": "步行 {limit:g} 分钟（{speed:g} 米/秒）范围内的老年人：{within:,} 人，占 {share}（共 {total:,} 人）。",
    "summary.coverage_district": "  {district}：{share}（{within:,} / {total:,} 人）",
    "summary.no_access": "未配置步行路网：未计算步行覆盖。",
    "summary.norms_heading": "未达标的社区（共 {total} 个社区，标准：{profile}）：",
    "summary.norm_area": "  设施建筑面积不足：{n} 个社区",
    "summary.norm_tier": "  缺少应配置的设施层级：{n} 个社区",
    "summary.norm_beds": "  床位不足：{n} 个社区",
    "summary.norm_stations": "  服务站数量不足：{n} 个社区",
    "summary.norm_capacity": "  服务能力不足：{n} 个社区",
    "summary.norms_all_met": "  所有社区均达标。",
    "summary.area_gap": "设施建筑面积缺口合计：{gap:,} 平方米。",
    "summary.siting": "选址（{model}）：新增 {n} 处设施，{weight}步行覆盖率从 {before} 提高到 {after}，新增覆盖 {added:,} {unit}。",
    "summary.siting_status": "  求解状态：{status}；结果可能不是最优。",
    "summary.site": "  {name}（{id}）{tier}：经度 {lon:.6f}，纬度 {lat:.6f}{web}；新增覆盖{weight} {new:,} {unit}",
    "summary.site_web": "（{system}：{lon:.6f}, {lat:.6f}）",
    "summary.no_sites": "  没有提出新设施。",
    "summary.left_out_heading": "未能覆盖的部分：",
    "summary.unreachable_demand": "  任何现有设施或候选点都无法在 {limit:g} 分钟内到达的{weight}：{n:,} {unit}，占 {share}；即使在所有候选点都建设施，覆盖率最多为 {max_share}。",
    "summary.off_network": "  不在路网上或只连到孤立路段的需求点（计为不可达）：{points} 个点，约 {people:,} 名老年人，分布在 {communities} 个社区：",
    "summary.off_network_row": "    {name}（{id}）：{points} 个点（{off} 个离街道超过 {max_m:g} 米，{frag} 个只连到孤立路段），约 {people:,} 名老年人",
    "summary.fragment_row": "    孤立路段 {nodes} 个节点 / {length:,} 米，位于经度 {lon:.5f}，纬度 {lat:.5f}，靠近{community}",
    "summary.fragments": "  路网中有 {n} 段孤立路段（与主路网不连通），最大的几段：",
    "summary.nothing_left_out": "  无：所有需求点都在主路网上。",
    "summary.more": "    ……及其他 {n} 项（完整列表见 {path}）",
    "summary.warnings": "{n} 条警告，完整列表见 {path}。",
    "summary.outputs": "输出文件已写入：{paths}",
    "summary.weight_elderly_population": "老年人",
    "summary.weight_population": "居民",
    "summary.weight_households": "户",
    "summary.unit_persons": "人",
    "summary.unit_households": "户",
    # --- config (config.py) --------------------------------------------------------------
    "config.walk_speed_unknown": ("walk_speed「{value}」既不是预设名称也不是数字。", "使用 {presets} 之一，或以米/秒为单位的速度，如 0.9。"),
    "config.value_out_of_range": ("{key} = {value} 超出合理范围 {bounds}。", "请给出 {bounds} 内的值，例如 {name} = {example}。"),
    "config.value_nan": ("{key} = {value} 不是数字（NaN）。", "请给出 {bounds} 内的值，例如 {name} = {example}。"),
    "config.file_not_found": ("找不到文件。", "检查配置中的路径（相对路径从配置文件所在文件夹算起）。"),
    "config.config_not_found": ("找不到配置文件。", "检查所给的路径。"),
    "config.path_link_loop": ("该路径是一个循环的符号链接，到达不了文件。", "让路径指向真实文件，或修复链接。"),
    "config.path_unreadable": ("无法打开该路径（{detail}）。", "检查路径及其访问权限。"),
    "config.path_is_folder": ("该路径是文件夹，不是文件。", "给出文件夹中数据文件的路径。"),
    "config.kind_fifo": "命名管道（FIFO）",
    "config.kind_device": "设备",
    "config.kind_special": "特殊文件",
    "config.path_special": (
        "该路径是{kind}，不是数据文件；为避免读取阻塞或无法结束，不读取它。",
        "给出普通文件的路径（GeoJSON、GeoPackage、Shapefile、CSV、Excel 或 OSM）。"),
    "config.config_not_utf8": ("配置文件不是 UTF-8 文本。", "将其另存为 UTF-8 编码。"),
    "config.config_not_toml": ("不是有效的 TOML：{detail}。", "修正 TOML 语法（文本加引号，[节] 标题）。"),
    "config.not_a_table": ("「{key}」必须是一个表（一个 [节]）。", "写成 [{key}] 并在其下列出各项。"),
    "config.unknown_key": ("未知的配置项「{key}」。{hint}", "删除它或改正拼写；此处可用的配置项：{known}。"),
    "config.wrong_type": ("配置项「{key}」的类型不对：给出的是 {got} {value}，应为 {expected}。", "将「{key}」写成 {expected}。"),
    "config.language_unknown": ("不支持 study.language「{value}」。", "使用 \"zh\" 或 \"en\"。"),
    "config.gated_compounds_unknown": ("不支持 access.gated_compounds「{value}」。", "使用 \"auto\" 或 \"off\"。"),
    "config.street_buffer_ignored": (
        "access.street_buffer_m 已不再使用：等时圈现在按可达模型绘制（以剩余 r 米步行到达的街道覆盖其周围 min(r, snap_max_m) 的范围）。",
        "从配置中删除 street_buffer_m。"),
    "config.no_communities": ("没有给出社区边界文件。", "添加 [inputs.communities]，写明 path = \"你的社区边界.geojson\"。"),
    "config.join_on_unknown": ("不支持 inputs.population.join_on「{value}」。", "使用 \"community_id\" 或 \"name\"。"),
    "config.siting_model_unknown": ("未知的选址模型 siting.model「{value}」。", "使用 lscp、partial、mclp、pmedian 或 pcenter（或留空）。"),
    "config.siting_weight_unknown": ("未知的 siting.weight「{value}」。", "使用 population、elderly_population 或 households。"),
    "config.siting_method_unknown": ("未知的 siting.method「{value}」。", "使用 auto、exact 或 heuristic。"),
    "config.facility_kind_unknown": ("access.facility_kinds 中有未知的设施类型「{value}」。", "从 {known} 中选择。"),
    "config.siting_tier_unknown": ("siting.tiers 中有未知的设施层级「{value}」。", "从 {known} 中选择。"),
    "config.siting_needs_p": ("选址模型「{model}」需要给出新建设施数量。", "设置 siting.p，例如 p = 5。"),
    "config.mclp_needs_p_or_budget": (
        "选址模型「mclp」需要 p（新建设施数量）或 budget（预算，元）。",
        "设置 siting.p = 5，或 siting.budget = 3000000。"),
    "config.accessibility_value_unknown": ("未知的 {key}「{value}」。", "使用 {known} 之一。"),
    "config.accessibility_bands": (
        "accessibility.bands_min 必须是递增的正分钟数，并在 accessibility.band_weights 中各有一个非负权重。",
        "例如 bands_min = [5, 10, 15]，band_weights = [1.0, 0.68, 0.22]。"),
    "config.objective_needs_p": ("accessibility.objective 需要给出新建设施数量。", "设置 siting.p，例如 p = 5。"),
    "config.basemap_unknown": (
        "未知的底图 output.basemap「{value}」。",
        "使用 none（离线）、osm、tianditu（需 output.tianditu_key）、amap，或含 {{z}}/{{x}}/{{y}} 的瓦片地址模板。"),
    "config.basemap_refused": (
        "底图 output.basemap「{value}」使用百度（BD-09）或腾讯瓦片，无法与研究图层对齐。",
        "使用 none、osm、tianditu、amap，或 WGS-84 / Web 墨卡托瓦片地址。"),
    "config.tianditu_needs_key": ("底图「tianditu」需要天地图密钥。", "设置 output.tianditu_key。"),
    # --- input files (io.py) -------------------------------------------------------------
    "io.csv_empty": ("文件是空的。", "重新导出带表头行和数据的表格。"),
    "io.csv_unreadable": ("无法按 CSV 读取：{detail}。", "另存为逗号分隔、带一行表头的文本。"),
    "io.csv_encoding": ("文本编码不是 {encodings} 中的任何一种。", "将 CSV 另存为 UTF-8，或在配置中为此输入设置 encoding = \"...\"。"),
    "io.no_such_sheet": ("没有名为「{sheet}」的工作表；工作表有：{sheets}。{hint}", "为此输入设置 layer = \"<工作表名>\"。"),
    "io.excel_unreadable": ("无法作为 Excel 工作簿读取（{detail}）。", "用 Excel 或 WPS 重新另存为 .xlsx。"),
    "io.file_empty": ("文件是空的。", "重新导出数据。"),
    "io.no_rows": ("表格只有表头，没有数据行。{sheets}", "添加数据行。"),
    "io.unsupported_type": ("不支持的文件类型「{suffix}」。", "使用 GeoJSON、GeoPackage（.gpkg）、Shapefile（.shp）、CSV 或 Excel（.xlsx）。"),
    "io.sheet_hint": " 工作簿有 {n} 个工作表（{sheets}），读取的是第一个「{first}」；如果表格在其他工作表，请为此输入设置 layer = \"<工作表名>\"。",
    "io.shp_part_shx": "形状索引",
    "io.shp_part_dbf": "属性表",
    "io.shp_part_missing": (
        "Shapefile 旁缺少 {ext} 文件（{part}）。",
        "把 {name} 复制到同一文件夹（Shapefile 由 .shp、.shx、.dbf、.prj 多个文件组成），或将图层导出为 GeoPackage 或 GeoJSON。"),
    "io.gpkg_layers": ("GeoPackage 中有 {n} 个图层（{layers}）。", "在配置中为此输入设置 layer = \"<图层名>\"。"),
    "io.vector_unreadable": ("无法作为空间数据文件读取（{detail}）。", "检查文件能否在 QGIS 中打开；重新导出为 GeoJSON 或 GeoPackage。"),
    "io.no_features": ("文件中没有要素。", "重新导出带要素的图层。"),
    "io.wkt_column_missing": ("找不到 WKT 列「{column}」；现有的列：{columns}。{sheets}", "将 wkt_column 设为存放几何文本的列。"),
    "io.wkt_invalid": ("「{value}」不是有效的 WKT。", "例如写成 POINT (104.07 30.77)。"),
    "io.no_coordinate_columns": (
        "找不到坐标列（查找了 lon/lat、经度/纬度、x/y 或 WKT 列）；现有的列：{columns}。{sheets}",
        "在配置中为此输入设置 x_column 和 y_column（或 wkt_column）。"),
    "io.coordinates_not_numbers": ("坐标「{x}」、「{y}」不是数字。", "给出十进制坐标，例如 104.0712 和 30.7701。"),
    "io.more_rows": ("……另有 {n} 行存在同样的问题。", "按上面各行的方法逐行修改。"),
    "io.required_column_missing": (
        "缺少必需的列「{name}」；现有的列：{columns}。{sheets}",
        "添加该列，或在配置中映射你的列：[inputs.{layer}.columns] {name} = \"<你的列名>\"。"),
    "io.mapping_key_unknown": (
        "配置为 {layer} 映射了未知的列「{key}」，它不会被使用。{hint}",
        "使用以下之一：{known}（[inputs.{layer}.columns] 标准列名 = \"<你的列名>\"）。"),
    "io.mapped_column_missing": (
        "文件中没有列「{column}」（映射为 {key}）；现有的列：{columns}。{hint}{sheets}",
        "修改配置中的 inputs.{layer}.columns.{key}。"),
    "io.estate_type_unknown": ("未知的小区类型「{value}」。", "写成 新建 / 既有（或 new / existing）。"),
    "io.empty_value": "（空）",
    "io.kind_unknown": ("未知的设施类型「{value}」。", "使用以下之一：{known}。"),
    "io.in_unit": "（单位：{unit}）",
    "io.number_ambiguous": (
        "「{value}」的数字格式有歧义（只识别 1,234,567 式的千位分隔符）。",
        "将「{column}」写成普通数字{unit}，例如 1234 或 1234.5，小数点用「.」。"),
    "io.not_a_number": ("「{value}」不是数字。", "将「{column}」写成数字{unit}。"),
    "io.number_empty": ("「{column}」为空。", "为每一行填写「{column}」。"),
    "io.number_negative": ("「{column}」为负数（{value}）。", "「{column}」应为 0 或更大。"),
    "io.number_infinite": ("「{column}」不是有限值（「{value}」）。", "给出实际数值。"),
    "io.number_implausible": ("「{column}」 {value} 大得不合理（超过 {ceiling} {unit}）。", "检查是否多了一位数、混入了合计行，或单位不对；填写这一行自己的数值。"),
    "io.fractional_count": ("{n} 行的「{column}」带小数（第一个：{value}）；人数和户数应为整数。", "取整，或检查该列是否是人数而不是比例或平均值。"),
    "io.id_empty": ("「{column}」为空。", "为每一行填写唯一的「{column}」。"),
    "io.id_duplicate": ("「{column}」「{value}」被 {n} 行使用（{rows}）。", "让「{column}」不重复。"),
    "io.crs_unknown": ("无法识别坐标系「{value}」。", "使用 EPSG 代码，如 \"EPSG:4326\"、\"EPSG:4547\"，或 \"GCJ-02\" / \"BD-09\"。"),
    "io.crs_overridden": ("文件声明的坐标系是 {declared}；配置中的 crs「{value}」优先。", "如果文件自己的坐标系正确，删除配置中此输入的 crs。"),
    "io.no_crs": ("文件没有声明坐标系。", "在配置中为此输入设置 crs = \"EPSG:4326\"（或你的坐标系；高德/腾讯坐标写 \"GCJ-02\"，百度坐标写 \"BD-09\"）。"),
    "io.no_crs_shp": (
        "Shapefile 缺少 .prj 文件，因此没有声明坐标系。",
        "把 .prj 复制到 .shp 旁边，或在配置中为此输入设置 crs = \"EPSG:4326\"（或你的坐标系；高德/腾讯坐标写 \"GCJ-02\"，百度坐标写 \"BD-09\"）。"),
    "io.degrees_declared_projected": (
        "坐标（{extent}）看起来是经纬度，但声明的是投影坐标系 {label}。",
        "为此输入声明 crs = \"EPSG:4326\"（高德坐标写 \"GCJ-02\"）。"),
    "io.projected_declared_degrees": ("坐标（{extent}）不是经纬度，但声明的是 {label}。", "声明坐标实际所在的投影坐标系（例如 crs = \"EPSG:4547\"）。"),
    "io.lonlat_swapped": ("经度和纬度似乎写反了（{x}, {y}；声明的是 {label}）。", "交换这一行 x/经度 与 y/纬度 列的值（或设置 x_column / y_column）。"),
    "io.not_lonlat": ("（{x}, {y}）不是一对经纬度（声明的是 {label}）。", "改正这一行的坐标。"),
    "io.geometry_empty": ("几何为空。", "绘制该要素或给出它的坐标。"),
    "io.polygons_repaired": ("{n} 个无效的多边形已用 make_valid 修复（例如{example}）。", "在 QGIS 中检查它们（矢量 > 几何工具 > 检查有效性）。"),
    "io.polygon_unrepairable": ("多边形无效且无法修复（面积为零）。", "重新绘制边界。"),
    "io.community_not_polygon": ("社区边界必须是多边形，这里是 {kind}。", "以 Polygon 或 MultiPolygon 要素给出社区边界。"),
    "io.polygons_as_points": ("{n} 个以多边形给出的{layer}按其内部一点处理。", ""),
    "io.not_a_point": ("{layer}必须是点（或多边形），这里是 {kind}。", "每个都以点给出。"),
    "io.above_population": (
        "「{column}」（{value}）超过了「{population_column}」（{population}）。",
        "检查两列是否写反，以及「{column}」是人数而不是百分比。"),
    "io.join_column_missing": ("缺少用于连接的列「{key}」。", "添加该列或进行映射：[inputs.population.columns] {key} = \"<你的列名>\"。"),
    "io.join_names_duplicate": (
        "有 {n} 个社区名为「{value}」（{rows}），人口表无法按名称连接到它们。",
        "改为按编码连接（inputs.population.join_on = \"community_id\"），或让名称不重复。"),
    "io.population_without_boundary": (
        "「{column}」「{value}」没有对应的社区边界；它的人口不参与分析。",
        "在 {boundaries} 中补上边界，或改正「{column}」。"),
    "io.boundary_without_population_row": ("社区「{value}」（「{column}」）不在人口表中；使用边界文件自带的数字。", "在 {table} 中为它添加一行。"),
    "io.boundary_without_population": ("社区「{value}」（「{column}」）不在人口表中，自身也没有人口数。", "在 {table} 中为它添加一行，或改正「{column}」。"),
    "io.population_missing": ("人口为空（边界文件和人口表都没有给出）。", "填写人口，或在人口表中给出。"),
    "io.outside_extent": (
        "位于社区范围之外 {km} 公里（允许 {allowed} 公里）：坐标可能属于另一个坐标系。",
        "检查声明的 crs（GCJ-02 / BD-09 / WGS-84）和经纬度列，或调大 study.extent_margin_m。"),
    "io.facility_community_unknown": ("「{column}」「{value}」不对应任何社区；该设施改为归入它所在的社区多边形。", "改正「{column}」或留空。"),
    "io.metric_crs_invalid": ("study.metric_crs「{value}」无法使用：{detail}。", "使用 \"auto\" 或投影坐标系，如 \"EPSG:32648\"。"),
    "io.other_geometry_unused": ("{n} 个其他几何类型的{what}要素未被使用。", ""),
    "io.what_boundary": "边界（绘制线和多边形）",
    "io.what_building": "建筑（使用点和多边形）",
    "io.what_gate": "出入口（使用点）",
    "io.levels_not_numbers": ("{n} 栋建筑的层数不是数字（第一个：「{value}」）；按一层计。", "以数字给出层数，例如 18。"),
    # --- metric CRS (crs.py) and layer names ---------------------------------------------
    "crs.metric_configured": ("量测坐标系 {name}（{value}），由 study.metric_crs 指定。", ""),
    "crs.metric_auto": (
        "量测坐标系 {name}（EPSG:{epsg}）：{what}中心点中位数（{lon}, {lat}）所在的 UTM 分带；{total} 个{what}中有 {inside} 个位于该带内。{outside}",
        ""),
    "crs.metric_outside": " 带外的 {n} 个远离其他要素，或研究区跨越分带；如需其他坐标系，请设置 study.metric_crs（例如 CGCS2000 3 度带）。",
    "layer.communities": "社区",
    "layer.population": "人口表",
    "layer.facilities": "设施",
    "layer.candidates": "候选点",
    "layer.buildings": "建筑",
    "layer.districts": "区县边界",
    "layer.gates": "小区出入口",
    "layer.demand_points": "需求点",
    "layer.features": "要素",
    # --- geometry and CRS checks (checks.py) ---------------------------------------------
    "checks.kind_duplicate": "边界重复",
    "checks.kind_nested": "相互包含",
    "checks.kind_overlap": "部分重叠",
    "checks.more_pairs": ("……另有 {n} 对社区{kind}。", "按上面各对的方法修改。"),
    "checks.same_boundary": ("与社区「{id}」（{where}）边界相同：两者各有 {share} 位于对方之内，居民会被重复计算。", "删除重复的要素，或把两者合并为一个社区、一个人口数。"),
    "checks.nested": (
        "位于社区「{id}」（{where}）之内：其面积的 {share} 被较大的社区覆盖，那个社区的人口很可能已包含这些居民。",
        "删除两者之一，或从外面的边界中挖去里面的小区，使每位居民只计算一次。"),
    "checks.overlap": (
        "与社区「{id}」（{where}）重叠 {ha} 公顷，占较小者的 {share}；重叠部分的居民被计算两次。",
        "修正共用边界（QGIS：矢量 > 几何工具 > 检查有效性，或拓扑检查器），使多边形不重叠。"),
    "checks.far_feature": (
        "距离{layer}中心点中位数（{centre}）{km} 公里，远超其他要素（超过 {limit} 公里即标出）：坐标很可能有误。它仍参与分析，但量测坐标系按研究区主体选择。",
        "检查该要素的坐标（经纬度写反或写错、属于另一坐标系），或删除它。"),
    "checks.more_far": ("……另有 {n} 个{layer}远离其他要素。", "按上面各行的方法检查。"),
    "checks.system_wgs84": "WGS-84（GPS、OpenStreetMap）",
    "checks.system_gcj02": "GCJ-02（高德、腾讯）",
    "checks.system_bd09": "BD-09（百度）",
    "checks.measure_points": "到最近街道距离的中位数",
    "checks.measure_polygons": "穿过社区内部的街道平均长度",
    "checks.off_streets": (
        "{layer}整体朝一个方向偏离街道：坐标看起来是 {looks}，但声明的是 {declared_name}。按 {best} 读取时它们移动{shift}，与街道网络吻合得多（{measure}：按声明 {now} 米，按 {best} {then} 米）。按声明坐标系计算的步行时间和覆盖率是错的。",
        "在配置的 [inputs.{key}] 下设置 crs = \"{best}\"（取自同一地图服务的其他输入也一样），然后重新运行。"),
    "checks.off_streets_wgs84": (
        "{layer}整体朝一个方向偏离街道：坐标看起来是 {looks}，但声明的是 {declared_name}。按 {best} 读取时它们移动{shift}，与街道网络吻合得多（{measure}：按声明 {now} 米，按 {best} {then} 米）。按声明坐标系计算的步行时间和覆盖率是错的。",
        "删除配置 [inputs.{key}] 下的 crs = \"{declared}\"（坐标已经是 WGS-84）。"),
    "checks.shift": "约 {m} 米，方向{direction}",
    "checks.dir_e": "东",
    "checks.dir_ne": "东北",
    "checks.dir_n": "北",
    "checks.dir_nw": "西北",
    "checks.dir_w": "西",
    "checks.dir_sw": "西南",
    "checks.dir_s": "南",
    "checks.dir_se": "东南",
    # --- norm profiles (norms.py) --------------------------------------------------------
    "profile.moved_walk_speed": "步行速度属于研究本身：请在研究配置中设置 [access] walk_speed",
    "profile.moved_service_radius": "请写 [access] distance_m（路网步行距离，米）",
    "profile.extends_cycle": ("规范「{name}」通过 extends 循环继承了自己。", "从继承链中删除一个 extends。"),
    "profile.unknown": ("未知的规范「{name}」。", "使用以下之一：{known}（见 `eldercare-coverage profiles`）。"),
    "profile.file_not_found": ("找不到规范文件。", "检查 [norms] profile_file 给出的路径。"),
    "profile.not_utf8": ("规范文件不是 UTF-8 文本。", "将文件另存为 UTF-8。"),
    "profile.not_toml": ("不是有效的 TOML：{detail}。", "修正 TOML 语法（文本加引号，[节] 标题，数字不带单位）。"),
    "profile.tiers_not_table": (
        "「tiers」必须由 [tiers.<类型>] 各节组成。",
        "例如写 [tiers.day_care_centre]，其下 min_population = 10000。"),
    "profile.tier_unknown": ("未知的设施层级「{kind}」。", "使用以下之一：{known}。"),
    "profile.key_moved": ("「{key}」已不再是规范中的配置项。", "删除它：{instead}。"),
    "profile.cite_not_table": (
        "「cite」必须由 [cite.\"<配置项>\"] 各节组成。",
        "例如写 [cite.\"land.per_resident_m2\"]，其下 clause = \"…\"、quote = \"…\"。"),
    "profile.value_text": ("配置项「{key}」的值是 {value}；应为文本。", "加引号书写，例如 {name} = \"…\"。"),
    "profile.value_bool": ("配置项「{key}」的值是 {value}；应为 true 或 false。", "写 true 或 false，不加引号。"),
    "profile.value_number": ("配置项「{key}」的值是 {value}；应为数字。", "写普通数字，不加引号和单位，例如 {name} = 0.1。"),
    "profile.value_positive": ("配置项「{key}」的值是 {value}；应为大于 0 的数。", "给出正数。"),
    "profile.value_nonnegative": ("配置项「{key}」的值是 {value}；应为 0 或更大的数。", "给出 0（不采用该规则）或正数。"),
    "profile.value_speed": ("配置项「{key}」的值是 {value}；应为 0.1 到 3.0 米/秒之间的步行速度。", "以米/秒给出，例如 0.9。"),
    "profile.value_share": ("配置项「{key}」的值是 {value}；应为大于 0、不超过 1 的比例。", "给出小数，例如 15% 写 0.15。"),
    "profile.value_choice": ("配置项「{key}」的值是 {value}；应为 {options} 之一。", "加引号写 {options} 之一。"),
    "profile.value_list": ("配置项「{key}」的值是 {value}；应为取自 {allowed} 的列表。", "例如写 {name} = [\"{first}\"]。"),
    "profile.distance_and_time": ("规范同时设置了 access.distance_m 和 access.time_limit_min。", "只保留原文给出的那一项（步行距离或步行时间）。"),
    "profile.tier_bands_order": (
        "tiers.{hi}.min_population（{hi_value}）不大于 tiers.{lo}.min_population（{lo_value}）。",
        "较高层级的起始人口必须更大；改正两者之一。"),
    "profile.tier_area_order": ("tiers.{kind}：min_floor_area_m2 大于 max_floor_area_m2。", "交换或改正这两个数。"),
    "profile.recipients_order": (
        "service_capacity.recipients_per_facility_min 大于 recipients_per_facility_max。",
        "交换或改正这两个数。"),
    "profile.value_no_tier_rule": "规范无按人口配置层级的规则",
    "profile.value_population_unknown": "人口未知",
    "profile.value_no_resident_rule": "规范无按常住人口计的建筑面积规则",
    "profile.value_no_household_rule": "规范无按户数计的建筑面积规则",
    "profile.value_no_land_rule": "规范无用地标准",
    "profile.value_no_capacity_rule": "规范无服务能力规则",
    "profile.value_households_unknown": "户数未知",
    "profile.value_no_area_rule_applies": "无适用的建筑面积规则",
    "profile.value_not_applicable": "不适用：{rule}",
    "value.yes": "是",
    "value.no": "否",
    "value.none": "—（不适用）",
    # --- output folders (outputs.py) -----------------------------------------------------
    "outputs.broken_link": "{path} 是一个失效的符号链接。",
    "outputs.folder_is_file": "输出文件夹 {folder} 是一个文件，不是文件夹。",
    "outputs.folder_under_file": "输出文件夹 {folder} 位于 {path} 之下，而后者是一个文件，不是文件夹。",
    "outputs.folder_not_writable": "输出文件夹不可写（没有权限或只读）。",
    "outputs.parent_not_writable": "{path}（将在其中创建输出文件夹 {folder}）不可写（没有权限或只读）。",
    "outputs.fix_out_folder": "给出一个可写的文件夹（不存在时会自动创建）。",
    "outputs.fix_writable_folder": "另选一个可写的输出文件夹（[output] data_dir、reports_dir、maps_dir，或 --out DIR）。",
    "outputs.output_folder": ("{problem}", "{fix}"),
    "outputs.cannot_write": ("无法写入输出文件夹：{detail}。", "在可写的磁盘上另选输出文件夹（[output] 或 --out DIR）。"),
    "outputs.is_input": (
        "这是本研究的输入文件，会被输出覆盖。",
        "另选一个输出文件夹（[output] data_dir、reports_dir、maps_dir，或 --out DIR），不要与输入文件放在同一处，或给输入文件改名。"),
    "outputs.would_replace_folder": (
        "输出会替换这个文件夹或特殊文件，而它不是本研究写入的。",
        "另选输出文件夹（[output] data_dir、reports_dir、maps_dir，或 --out DIR）；如果文件是你的且不再需要，移走或删除它。"),
    "outputs.changed_since": ("研究「{study}」写入后此文件被修改过；重新运行会覆盖你的修改。", "把文件移到别处（或改名）以保留它，或删除它，然后重新运行。"),
    "outputs.other_study": (
        "它属于写入同一文件夹的研究「{study}」；本研究不会覆盖它。",
        "为每个研究使用各自的输出文件夹（[output] data_dir、reports_dir、maps_dir，或 --out DIR）。"),
    "outputs.not_ours": (
        "文件已存在且不是本研究写入的；不会覆盖它。",
        "另选输出文件夹（[output] data_dir、reports_dir、maps_dir，或 --out DIR）；如果文件是你的且不再需要，移走或删除它。"),
    "outputs.cross_device": "文件无法跨文件系统移动（跨设备链接）",
    "outputs.publish_failed_restored": (
        "发布输出失败：{what}。所有输出文件夹已恢复到本次运行之前的状态。",
        "确认每个输出文件夹都在有剩余空间的可写磁盘上（或用 [output] 或 --out DIR 另选），然后重新运行。"),
    "outputs.publish_failed_kept": (
        "发布输出失败：{what}。部分原有文件未能放回；它们保存在 {kept}（backup 文件夹），下次向这些文件夹运行时会放回。",
        "确认每个输出文件夹都在有剩余空间的可写磁盘上（或用 [output] 或 --out DIR 另选），然后重新运行。"),
    # --- run stages (pipeline.py) --------------------------------------------------------
    "pipeline.sample_missing": ("本安装中缺少内置示例。", "重新安装 eldercare-coverage，或给出你自己的研究配置：eldercare-coverage run study.toml"),
    "pipeline.candidates_empty": "{path} 中没有候选点",
    "pipeline.candidates_unset": "未设置 [inputs.candidates]",
    "pipeline.no_candidates": (
        "选址模型「{model}」没有可选的候选点（{where}），覆盖率无法提高：不会提出新设施。",
        "在 [inputs.candidates] path 中给出候选点，或删除 siting.model 只计算覆盖。"),
    "pipeline.p_above_candidates": ("siting.p = {p} 处新设施，但只有 {n} 个候选点（在 {path} 中）。", "将 siting.p 设为不超过 {n}，或增加候选点。"),
    "pipeline.profile_sets_limit": (
        "规范「{profile}」规定了步行限值：{explain}；步行可达按 {minutes} 分钟（{metres} 米）计算，而不是 [access] time_limit_min = {configured}。",
        "如需按其他限值规划，使用继承该规范并设置 [access] time_limit_min 或 distance_m 的规范文件。"),
    "pipeline.facilities_without_supply": (
        "{n} 处设施没有 {supply}（例如 {examples}）；它们不为可达性提供供给。",
        "为每处设施给出 {supply}，或把 accessibility.supply 设为其他列。"),
    "pipeline.points_without_demand": (
        "{n} 个需求点没有 {demand}；它们在可达性中按无需求计。",
        "为每个社区给出 {demand}，或设置 accessibility.demand = \"residents\"。"),
    "pipeline.no_candidate_area": (
        "未计算新建设施后的可达性：候选点只能以建筑面积（max_floor_area_m2）提供供给，而没有候选点给出该值。",
        "设置 accessibility.supply = \"floor_area\"，并为候选点给出 max_floor_area_m2 列。"),
    "pipeline.candidates_supply_area": (
        "未计算新建设施后的可达性：候选点只能以建筑面积（max_floor_area_m2）提供供给，而不是 {supply}。",
        "设置 accessibility.supply = \"floor_area\"，并为候选点给出 max_floor_area_m2 列。"),
    "pipeline.candidates_median_area": (
        "{n} 个候选点没有 max_floor_area_m2；在可达性计算中取已知面积的中位数。",
        "为每个候选点给出 max_floor_area_m2。"),
    "pipeline.network_distance": "（路网步行距离 {metres} 米）",
    "pipeline.profile_limit_differs": (
        "规范「{profile}」按 {speed} 米/秒步行 {minutes} 分钟{distance}规划，但步行可达是按 {used} 分钟计算的。",
        "在 apply_profile_walk_limit(study) 上计算可达性以遵循规范（`run` 就是这样做的），或设置 [access] time_limit_min。"),
    "pipeline.no_candidate_for_tiers": (
        "没有候选点可以设置 siting.tiers 中的任何层级（{tiers}）（它们的类型列写的是其他层级）。",
        "把这些层级加入 siting.tiers，或清空候选点的类型。"),
    "pipeline.capacitated_needs_area": (
        "siting.capacitated 需要规范给出人均建筑面积，才能把建筑面积换算为服务能力；规范「{profile}」没有（人均用地不是建筑面积）。",
        "使用含 [area] per_resident_m2 的规范（例如 lhasa），或设置 capacitated = false。"),
    "pipeline.points_without_weight": (
        "{n} 个需求点没有 {weight}；它们在选址中的权重为 0。",
        "为每个社区给出 {weight}，或设置 siting.weight = \"population\"。"),
    "pipeline.budget_without_costs": (
        "设置了 siting.budget，但没有候选点给出造价，也没有给出（带造价的）层级，因此无法应用预算。",
        "为候选点给出造价列，或设置 siting.tiers（造价取自规范），或改用 siting.p。"),
    "pipeline.siting_options": ("选址：{detail}", "修改配置中的 [siting] 一节。"),
    "pipeline.siting_status": (
        "选址（{model}）结束时的状态为「{status}」{detail}；提出的设施可能缺失或不是最优。",
        "放宽 [siting] 目标（p、budget、min_district_share、target_share），或调大 siting.time_limit_s。"),
    "pipeline.no_browser": (
        "没有生成地图的静态 PNG：找不到 Chromium 类浏览器。",
        "安装 Chromium（bash scripts/setup_browser.sh），或设置 output.png = false。"),
    # --- demand grid (demand.py) ---------------------------------------------------------
    "demand.grid_too_large": (
        "按 access.grid_spacing_m = {spacing} 米生成的需求点网格在 {area} 平方公里的社区外包矩形内约有 {estimate} 个点（生成时约占 {gib} GiB 内存），超过 access.max_demand_points = {max_points}。",
        "将 access.grid_spacing_m 从 {spacing} 米调大到 {suggest} 米或更大（默认 50 米），给出建筑图层（inputs.buildings），或在内存足够时调大 access.max_demand_points。"),
    # --- spreadsheet cells (_safe_cells.py) ----------------------------------------------
    "cells.control_replaced": (
        "Excel 文件无法容纳的控制字符已替换为 U+FFFD（�），位置：工作表「{sheet}」单元格 {cell}{header}{more}。",
        "从输入文件中删除这些控制字符（常见于从 Word 粘贴的文本）。"),
    "cells.header": "（{name}）",
    "cells.more": "，另有 {n} 个单元格",
    # --- command line (cli.py) -----------------------------------------------------------
    "cli.internal_error": "内部错误：{error}",
    "cli.rerun_verbose": "请加 --verbose 重新运行以查看调用栈，并报告此问题。",
    # --- walk access (access.py) ---------------------------------------------------------
    "reach.fragment_snap_item": "{id}：{n} 个点，最多 {m} 米",
    "reach.more_communities": "，另有 {n} 个社区",
    "reach.fragment_snaps": (
        "{n} 个住宅点离孤立街道段最近，只能以更长的直线步行连到主路网（{listing}{more}）。多出的距离见需求点图层的 fragment_extra_m 列。",
        "检查该处 OSM 数据是否缺少人行道连接；access.fragment_max_extra_m 设定在将点计为只连到孤立路段之前最多可再找多远。"),
    "reach.no_gates": (
        "没有小区出入口位于任何社区边界上，因此不模拟封闭小区：每户都使用最近的街道。",
        "以 [inputs.gates] 点图层给出小区出入口，或在 OSM 中标注（barrier=gate / entrance=*）；设置 access.gated_compounds = \"off\" 可不再提示。"),
    "reach.ungated": (
        "{n} 个社区没有已知可用的出入口，其住宅仍使用最近的街道：{ids}。",
        "以 [inputs.gates] 点图层给出它们的出入口，或在 OSM 中标注（barrier=gate / entrance=*）。"),
    "reach.off_network": (
        "{n} 个点距离任何街道都超过 {m} 米（例如 {examples}）；它们计为不可达。",
        "检查它们的坐标/坐标系；如果 OSM 数据中缺少街道，可调大 access.snap_max_m。"),
    "reach.fragment_only": ("{n} 个点只能到达与主路网不连通的孤立路段（例如 {examples}）；它们计为不可达。", "检查它们附近的 OSM 数据是否缺少人行道连接。"),
    # --- walk network (network.py) -------------------------------------------------------
    "network.fragment_item": "{nodes} 个节点 / {m} 米，位于经度 {lon}，纬度 {lat} 附近",
    "network.fragments": (
        "除主路网（{main} 个节点）外还有 {n} 段不连通的孤立路段；最大的：{listing}。分析使用主路网；只能到达孤立路段的点列为「只连到孤立路段」。",
        "通常无碍（封闭小区内部道路、裁剪切断的路段）。如果孤立路段很大，检查 OSM 数据是否缺少连接，或加大路网边距。"),
    "network.not_found": ("找不到步行路网文件。", "检查配置中的 inputs.network.path。"),
    "network.unknown_format": ("无法识别的步行路网格式。", "给出 OpenStreetMap 的 .osm、.osm.bz2 或 .osm.pbf 文件，或 .graphml 图。"),
    "network.unreadable": (
        "无法读取步行路网：{detail}。",
        "检查文件是否为完整的 OpenStreetMap 导出（.osm/.osm.bz2/.osm.pbf），或由 osmnx 写出的 GraphML。"),
    "network.no_streets": ("研究区内没有可步行的街道。", "检查路网文件是否覆盖研究区，以及各输入的坐标系。"),
    "network.graphml_no_xy": (
        "{total} 个节点中有 {n} 个缺少坐标属性 {missing}（例如节点 {first}）；现有的节点属性：{found}。",
        "为每个节点给出 x（经度或东坐标）和 y（纬度或北坐标），并为图给出 crs 属性，如 osmnx 的 save_graphml 所写；或改为给出 OpenStreetMap 文件。"),
    "network.download_failed": ("下载步行路网失败：{detail}。", "检查网络连接，或下载一个数据摘录（例如来自 Geofabrik）并设置 inputs.network.path。"),
    # --- maps (maps.py) ------------------------------------------------------------------
    "maps.layer_without_crs": (
        "图层 {layer} 没有坐标参考系，无法放到地图上。",
        "通过 eldercare_coverage.io 读取它（会设定研究的坐标系），或对它调用 .set_crs(...)。"),
    "maps.basemap_refused": (
        "底图「{name}」是百度（BD-09，自有瓦片网格）或腾讯（GCJ-02，瓦片行序翻转）服务；其瓦片与 WGS-84 偏移 100–700 米，本地图无法把社区、设施和等时圈与之对齐。",
        "使用底图 'none'（离线）、'osm'、'tianditu'（需天地图密钥）、'amap'（叠加图层会偏移到 GCJ-02），或自定义的 WGS-84 / Web 墨卡托瓦片地址。"),
    "maps.basemap_unknown_amap": ("未知的底图「{name}」。", "高德街道瓦片请用 'amap'。"),
    "maps.tianditu_needs_key": (
        "底图「tianditu」需要天地图 API 密钥（tk）。",
        "传入 tianditu_key=...（天地图开发者控制台可免费申请），或使用底图 'none' 或 'osm'。"),
    "maps.basemap_unknown": ("未知的底图「{name}」。", "使用 'none'（默认，离线）、'osm'、'tianditu'、'amap'，或含 {{z}}、{{x}}、{{y}} 的瓦片地址。"),
    "maps.language_unknown": ("未知的地图语言「{value}」。", "使用 'zh'（默认）或 'en'。"),
    # --- run stages, continued (pipeline.py) ---------------------------------------------
    "pipeline.siting_needs_network": ("选址需要步行可达结果：没有配置步行路网，因此不提出新设施。", "设置 [inputs.network] path。"),
    # --- units of input columns ------------------------------------------------------
    "unit.persons": "人",
    "unit.households": "户",
    "unit.beds": "张",
    "unit.m2": "平方米",
    "unit.cny": "元",
    # --- run summary: compound gates (summary.py) ----------------------------------------
    "summary.gate_effect": "小区出入口：按 {gates} 个出入口（{hour} 时的开放情况）计，上述比例为 {with_gates}；不考虑出入口（就近上街）时为 {without}，变化 {change} 个百分点。{note}",
    "summary.gate_note_illustrative": "输入的 {total} 个出入口中 {n} 个为示意数据（非实测）。",
    "summary.gate_ungated": "  {n} 个小区没有已知可用的出入口，其住宅仍按就近上街计算（名单见报告）。",
    # --- stage lines of a run (pipeline.py) ----------------------------------------------
    "stage.load": "读取并检查输入",
    "stage.write_inputs": "写出检查后的输入",
    "stage.network": "步行路网",
    "stage.access": "步行可达",
    "stage.norms": "规范核查",
    "stage.accessibility": "可达性",
    "stage.siting": "选址",
    "stage.siting_phases": "分期选址",
    "stage.accessibility_tables": "可达性表与新设施",
    "stage.map": "地图",
    "stage.reports": "报告",
    # --- progress bars (progress.py) -----------------------------------------------------
    "progress.walk_times": "步行时间",
    "progress.isochrones": "等时圈",
    # --- walk costs: steps and slopes (config.py, walkcost.py) ---------------------------
    "config.steps_factor_invalid": (
        "access.steps_speed_factor = {value} 既不是 \"auto\"，也不是 (0, 1] 之间的步速比例。",
        "使用 \"auto\"（按步速预设取值）或例如 0.5。"),
    "config.dem_crs_without_path": (
        "设置了 inputs.dem.crs 但没有给出高程模型（DEM）路径，不计算坡度。",
        "在 [inputs.dem] 中设置 path，或删除 crs。"),
    "dem.no_rasterio": (
        "读取高程模型（DEM）需要 rasterio 软件包，但未安装。",
        "运行 pip install \"eldercare-coverage[dem]\"，或删除 [inputs.dem]。"),
    "dem.unreadable": (
        "无法读取高程模型（DEM）：{detail}。",
        "提供覆盖研究范围的 GeoTIFF 高程模型（单位：米，海拔高度）。"),
    "dem.all_nodata": (
        "高程模型（DEM）在研究范围内没有高程值（全部为无数据）。",
        "提供在研究范围内有高程值的 DEM。"),
    "dem.values_range": (
        "DEM 数值范围为 {low} 至 {high}，超出 {lo}..{hi} 米：不是以米为单位的高程（是否为其他波段、英尺单位或经过缩放的产品？）。",
        "提供单波段、以米为单位的海拔高程模型。"),
    "dem.values_void": (
        "DEM 数值范围为 {low} 至 {high}，超出 {lo}..{hi} 米：不是以米为单位的高程（是否为其他波段、英尺单位或经过缩放的产品？）。",
        "提供单波段、以米为单位的海拔高程模型。如果 {low} 表示缺失值，请将其声明为文件的无数据值"
        "（gdal_translate -a_nodata {low} in.tif out.tif）。"),
    "dem.crs_unknown": (
        "inputs.dem.crs「{value}」不是 pyproj 能识别的坐标系。",
        "填写 EPSG 代码，例如 \"EPSG:4326\" 或 \"EPSG:32648\"。"),
    "dem.no_crs": (
        "高程模型（DEM）没有声明坐标系。",
        "设置 [inputs.dem] crs（经纬度例如 \"EPSG:4326\"），或将 DEM 另存为带坐标系的 GeoTIFF。"),
    "dem.no_overlap": (
        "高程模型（DEM）与研究范围不重叠：DEM 范围为（{extent}），研究范围为（{area}），均为 DEM 的坐标系 {crs}。",
        "检查 DEM 是否覆盖研究范围、坐标系是否正确；如果文件声明的坐标系有误，请设置 [inputs.dem] crs。"),
    "dem.partial": (
        "高程模型（DEM）只覆盖了研究范围的 {share}（DEM 范围（{extent}），研究范围（{area}），坐标系 {crs}）。",
        "提供覆盖整个研究范围的 DEM（或拼接后的 DEM）。"),
    "dem.holes": (
        "步行路网共 {total_km} 公里，其中 {km} 公里（{edges} 条路段）位于 DEM 无数据区或 DEM 范围之外，按平地步速计算。",
        "填补无数据区（例如 gdal_fillnodata），或提供覆盖路网外延范围的 DEM。"),
    # --- phased siting plans (config.py) -------------------------------------------------
    "config.phases_model": (
        "siting.phases 只适用于普通的 mclp 和 pmedian 模型，不适用于「{model}」（也不适用于容量约束或各区最低比例）。",
        "设置 siting.model = \"mclp\" 或 \"pmedian\"，不设 capacitated / min_district_share；或删除 siting.phases。"),
    "config.phases_not_increasing": (
        "siting.phases 必须是递增的、不小于 1 的新建设施数量，当前为 {value}。",
        "例如 phases = [2, 5, 10]（每期结束时累计新建数量）。"),
    "config.phases_with_budget": (
        "siting.phases 按新建设施数量分期，不能与 siting.budget（预算）同时使用：分期方案不会遵守预算。",
        "删除 siting.budget 并用 siting.p 与 phases 给出每期数量，或删除 siting.phases。"),
    "config.compute_scheduler_unknown": ("compute.scheduler「{value}」无法识别。", "使用 \"local\"、\"processes\" 或 Dask 调度器地址（\"tcp://host:8786\"）。"),
    "config.compute_tiling_unknown": ("compute.tiling「{value}」无法识别。", "使用 auto、none、district 或 grid。"),
    "config.tiles_need_pyarrow": ("分块计算（compute.tiling = \"{value}\"）把各块结果写成 GeoParquet，需要 pyarrow，但未安装。", "pip install 'eldercare-coverage[cluster]'，或设置 tiling = \"none\"。"),
    "config.compute_needs_dask": ("[compute] scheduler = \"{value}\" 需要 Dask，但未安装。", "pip install 'eldercare-coverage[cluster]'，或设置 scheduler = \"local\"。"),
    "pipeline.worker_missing_package": ("Dask 工作进程缺少 Python 包「{package}」，无法计算分块。", "在每台工作机上安装与本机相同的环境（有 DEM 时：pip install 'eldercare-coverage[cluster,dem]'），然后重启 dask worker。"),
    "pipeline.tile_cache_in_the_way": ("此文件夹占用了本研究分块缓存的位置，且不是本研究写入的，因此不予改动。", "移动或重命名它，或另选 [output] data_dir。"),
    # --- 选址结果的求解说明（siting/*.py；SitingResult.notes） ---------------------------
    "solver.group_share_unreachable": "{groups} 的最低覆盖比例无法达到；这些分组改为要求覆盖所有可达的需求。",
    "solver.target_unreachable": "目标覆盖比例 {target:.0%} 无法达到；任何选址方案最多覆盖 {reachable:.1%}，已按此求解。",
    "solver.equity_implied": "公平性约束已由集合覆盖模型（LSCP）隐含（它覆盖所有可达的需求点）。",
    "solver.unserved_penalty": "任何已开设施都不可达的需求按 {minutes:g} 分钟计。",
    "solver.pcenter_unreachable_left_out": "超出所有站点步行时限的需求点不计入 p-中心目标。",
    "solver.pmedian_lagrangian_proof": "启发式解 {heuristic:.6g}，拉格朗日界 {bound:.6g}；拉格朗日界已证明启发式解最优。",
    "solver.pmedian_radius_milp": "启发式解 {heuristic:.6g}，拉格朗日界 {bound:.6g}；半径 MILP：{status}。",
    "solver.repair_failed": "修复步骤无法使每个分组达到最低覆盖比例；请用 method='exact' 判断是否存在可行方案。",
    "solver.exact_stopped": "精确求解器已停止（{status}，目标值 {objective:.6g}，界 {bound:.6g}）；启发式目标值 {heuristic:.6g}，拉格朗日界 {heuristic_bound:.6g}。",
    "solver.benders": "Benders 分解：主问题求解 LP {lp_rounds} 次、MIP {mip_rounds} 次（最后一次：{last}），割平面 {cuts} 条，按约化成本关闭站点 {closed} 个；LP 界 {lp_bound:.6g}。",
    "solver.nothing_to_add": "没有候选站点能增加覆盖：可达的需求已全部覆盖，或没有可达的需求。",
}
