// Chinese (default) and English strings. t('key', {var}) interpolates {var}; a missing key
// falls back to the other language, then to the key itself (and logs a warning once).
const LANG_KEY = 'jiuliu.lang';

const zh = {
  'app.name': '九六 Relay', 'app.tagline': 'Claude 与 Codex API 中转服务',
  'common.actions': '操作', 'common.all': '全部', 'common.cancel': '取消', 'common.close': '关闭', 'common.confirm': '请确认',
  'common.copied': '已复制', 'common.copy': '复制', 'common.copyFailed': '复制失败,请手动选择复制', 'common.delete': '删除',
  'common.deleted': '已删除', 'common.details': '详情', 'common.done': '完成', 'common.edit': '编辑', 'common.empty': '暂无数据',
  'common.error': '出错了', 'common.filter': '筛选', 'common.forbidden': '没有权限访问此页面', 'common.loading': '加载中…',
  'common.next': '下一页', 'common.notFound': '页面不存在', 'common.ok': '确定', 'common.page': '第 {page} 页',
  'common.pageOf': '第 {page} / {pages} 页,共 {total} 条', 'common.pagination': '分页', 'common.prev': '上一页',
  'common.refresh': '刷新', 'common.reset': '重置', 'common.save': '保存', 'common.saved': '已保存', 'common.search': '搜索',
  'common.skip': '跳到主要内容', 'common.status': '状态', 'common.switchLang': 'Switch to English', 'common.table': '数据表',

  'nav.main': '主导航', 'nav.console': '控制台', 'nav.admin': '运营管理', 'nav.menu': '菜单',
  'nav.overview': '概览', 'nav.keys': 'API 密钥', 'nav.setup': '客户端配置', 'nav.logs': '使用记录', 'nav.transactions': '交易记录',
  'nav.recharge': '充值', 'nav.pricing': '模型定价', 'nav.adminOverview': '系统概览', 'nav.pools': '上游账号池', 'nav.users': '用户管理',
  'nav.approvals': '充值审核', 'nav.codes': '兑换码', 'nav.prices': '价格管理', 'nav.errorRules': '错误规则', 'nav.settings': '系统设置',
  'nav.audit': '审计日志',

  'auth.login': '登录', 'auth.register': '注册', 'auth.logout': '退出', 'auth.logoutFailed': '无法连接服务器:本机已退出,但其他设备上的登录可能仍然有效。', 'auth.loginTitle': '登录控制台', 'auth.registerTitle': '创建账号',
  'auth.username': '用户名', 'auth.usernameHint': '3-32 个字符:文字、数字、下划线、连字符或点', 'auth.email': '邮箱', 'auth.password': '密码',
  'auth.password2': '确认密码', 'auth.passwordHint': '至少 8 个字符', 'auth.mismatch': '两次输入的密码不一致',
  'auth.haveAccount': '已有账号?', 'auth.noAccount': '还没有账号?', 'auth.expired': '登录已过期,请重新登录',

  'account.title': '我的账户', 'account.password': '修改密码', 'account.old': '当前密码', 'account.new': '新密码', 'account.change': '修改密码',
  'account.changed': '密码已修改,其他设备上的登录已失效',

  'overview.subtitle': '余额、消费与调用量一览', 'overview.balance': '余额', 'overview.today': '今日消费', 'overview.last7': '近 7 天消费',
  'overview.last30': '近 30 天消费', 'overview.requests': '请求', 'overview.requestsUnit': '次请求', 'overview.tokens': 'Tokens',
  'overview.dailySpend': '每日消费与请求数(30 天)', 'overview.dailyTokens': '每日 Token 用量(按类型)', 'overview.byModel': '按模型消费(30 天)',
  'overview.byKey': '按密钥消费(30 天)', 'overview.noUsage': '暂无使用记录', 'overview.spend': '消费',
  'overview.utcNote': '统计周期按 UTC 计算。',

  'keys.subtitle': '创建和管理调用 API 所用的密钥', 'keys.create': '创建密钥', 'keys.createTitle': '创建 API 密钥', 'keys.name': '名称',
  'keys.defaultName': '我的密钥', 'keys.group': '分组', 'keys.rateLimit': '速率限制', 'keys.rateDefault': '默认', 'keys.rateHint': '每分钟请求数,0 为不限制;留空使用系统默认值',
  'keys.expiresAt': '过期时间', 'keys.optional': '可选,留空为永不过期', 'keys.models': '允许的模型', 'keys.modelsHint': '可选,逗号分隔,支持通配符 *;留空为全部模型',
  'keys.spendQuota': '消费上限', 'keys.quotaHint': '可选,此密钥累计消费达到该金额后停用;0 为不限制',
  'keys.codexHint': 'Codex 用户注意:创建密钥时,分组一定要选择 Codex 的分组(codex)。Claude 系列工具请选择 claude 分组。',
  'keys.createdTitle': '密钥已创建', 'keys.onceWarning': '完整密钥只显示这一次,请立即复制并妥善保存。关闭后将无法再次查看。',
  'keys.fullKey': '完整密钥', 'keys.groupIs': '分组:{group}', 'keys.setupClients': '配置客户端', 'keys.setup': '配置',
  'keys.enable': '启用', 'keys.disable': '禁用', 'keys.confirmDelete': '确定删除密钥「{name}」?使用它的客户端将立即无法调用。',
  'keys.deletedToast': '密钥已删除', 'keys.disabledToast': '密钥已禁用', 'keys.enabledToast': '密钥已启用', 'keys.empty': '还没有密钥,点击「创建密钥」开始',
  'keys.unlimited': '不限', 'keys.usage': '用量', 'keys.lastUsed': '最近使用', 'keys.never': '永不', 'keys.deleted': '已删除',

  'setup.subtitle': '为常用 AI 编程工具生成配置,已填入本服务地址与密钥', 'setup.chooseKey': '选择密钥', 'setup.noKey': '(未选择)',
  'setup.baseUrl': '服务地址:', 'setup.filled': '已填入刚创建的完整密钥。请复制保存,离开本页面后将只显示占位符。',
  'setup.placeholder': '出于安全考虑,完整密钥只在创建时显示。请将配置中的 {placeholder} 替换为您保存的完整密钥。',
  'setup.createFirst': '请先创建一个密钥。', 'setup.thenRun': '然后执行:',
  'setup.needCodex': '此密钥不在 codex 分组,Codex CLI 无法使用。请创建一个 codex 分组的密钥。',
  'setup.needClaude': '此密钥属于 codex 分组,只能用于 Codex(OpenAI Responses 协议)。Claude 系列工具请使用 claude 分组的密钥。',
  'setup.intro.claude-code': '终端版 Claude Code:设置环境变量(推荐),或写入配置文件。',
  'setup.intro.vscode': 'VS Code 的 Claude Code 插件:',
  'setup.intro.opencode': '编辑 OpenCode 配置文件(或 opencode.jsonc):',
  'setup.opencodeNote': '注意:请务必使用 anthropic 协议,不要用 openai 协议,否则可能出现调用报错。',
  'setup.intro.openclaw': '编辑 OpenClaw 配置文件,然后重启网关:',
  'setup.intro.codex': '编辑 Codex CLI 的两个配置文件(base_url 为服务根地址,不带 /v1):',
  'setup.intro.curl': '直接用 cURL 调用:', 'setup.intro.python': '使用 Anthropic 官方 Python SDK:', 'setup.intro.node': '使用 Anthropic 官方 Node.js SDK:',
  'setup.checkedWith': '已用 {client} 实测通过。',
  'setup.vscodeSameFile': 'VS Code 的 Claude Code 插件与终端版读取同一个 ~/.claude/settings.json:写好这个文件即可。',
  'setup.vscodeOutdated': '旧教程中的 "claude-code.env" 已不再生效;插件自己的设置是 claudeCode.environmentVariables({name, value} 列表)。',
  'setup.openclawNode': '当前 OpenClaw 需要 Node.js ≥ 24.16(v25 不行,v26.1 及以上可以)。',
  'setup.openclawRun': '有系统服务管理器时用 openclaw gateway restart 重启网关;容器或 WSL 中没有服务管理器,用 openclaw gateway run 在前台运行。单次试用:openclaw agent --local -m "你好"。',
  'setup.openclawDoctor': '注意:提供商必须写在 models.providers 下。旧教程里写在顶层的 "providers" 会让 OpenClaw 拒绝整个配置("Unrecognized key: providers"),而它建议的 openclaw doctor --fix 会把这段提供商配置整个删掉;请改成上面的写法,不要运行 doctor --fix。',

  'logs.subtitle': '每次调用的 Token 用量与费用,可展开查看计费明细', 'logs.key': '密钥', 'logs.allKeys': '全部密钥', 'logs.model': '模型',
  'logs.from': '开始时间', 'logs.to': '结束时间', 'logs.time': '时间', 'logs.inOut': '输入 / 输出', 'logs.cache': '缓存读 / 写', 'logs.cost': '费用',
  'logs.latency': '耗时', 'logs.empty': '没有符合条件的记录', 'logs.export': '导出 CSV', 'logs.exported': '已导出 {n} 条记录',
  'logs.breakdown': '计费明细', 'logs.kind': '类型', 'logs.tokens': 'Tokens', 'logs.pricePerM': '单价 / 百万 Tokens', 'logs.charge': '费用',
  'logs.total': '实际扣费', 'logs.requestId': '请求 ID', 'logs.priceRule': '价格规则', 'logs.endpoint': '接口', 'logs.ttft': '首字耗时',
  'logs.upstreamId': '上游请求 ID', 'logs.reasoningNote': '(已计入输出)', 'logs.roundingNote': '实际扣费为各项精确相加后统一四舍五入到 0.000001,可能与各项之和相差 0.000001。',
  'logs.estimated': '估算', 'logs.estimateNote': '流在上游报告最终用量之前中断,按已知数据估算计费:{method}。',
  'logs.estimate.message_start+streamed': '输入取自上游 message_start 报告的数量,输出按实际已流式返回的文本、工具参数与思考内容估算(UTF-8 字节数 ÷ 4)',
  'logs.estimate.request_body+streamed': '输入按请求体估算,输出按实际已流式返回的文本、工具参数与推理摘要估算(UTF-8 字节数 ÷ 4);未返回的推理 Token 不计费',
  'logs.serviceTier': '服务等级', 'logs.webSearches': '联网搜索次数', 'logs.speed': '速度模式',
  'logs.estimate.request_body+cache_hint+streamed': '输入按请求体估算,其中不超过该会话(prompt_cache_key)上一次上游报告的输入量按缓存读取计;输出按实际已流式返回的内容估算(UTF-8 字节数 ÷ 4);未返回的推理 Token 不计费',

  'tokens.input': '输入', 'tokens.output': '输出', 'tokens.cache_write_5m': '缓存写入(5 分钟)', 'tokens.cache_write_1h': '缓存写入(1 小时)',
  'tokens.cache_read': '缓存读取', 'tokens.reasoning': '推理',

  'tx.subtitle': '余额的每一笔变动', 'tx.allTypes': '全部类型', 'tx.typeLabel': '类型', 'tx.description': '说明', 'tx.amount': '金额',
  'tx.balanceAfter': '变动后余额', 'tx.ref': '关联', 'tx.empty': '暂无交易记录',
  'tx.rows': '{n} 次请求', 'tx.rowsTitle': '这笔扣费包含的请求',
  'tx.type.recharge': '充值', 'tx.type.charge': 'API 调用扣费', 'tx.type.refund': '退款', 'tx.type.adjustment': '余额调整', 'tx.type.redeem': '兑换码充值',

  'recharge.subtitle': '为账户充值', 'recharge.orderTitle': '提交充值', 'recharge.codeTitle': '使用兑换码', 'recharge.amount': '金额',
  'recharge.description': '备注', 'recharge.descPh': '例如:支付宝充值', 'recharge.quick': '快捷金额', 'recharge.submitOrder': '提交充值申请',
  'recharge.topUp': '立即充值', 'recharge.code': '兑换码', 'recharge.redeem': '兑换', 'recharge.redeemDesc': '兑换码充值',
  'recharge.credited': '充值成功:{amount} 已到账,当前余额 {balance}。', 'recharge.pending': '已提交 {amount} 的充值申请,等待管理员审核。',
  'recharge.modeManual': '当前充值方式:提交申请后由管理员审核入账。', 'recharge.modeCode': '当前充值方式:兑换码。请输入管理员发放的兑换码。',
  'recharge.modeOpen': '当前充值方式:直接到账。',
  'recharge.history': '充值记录', 'recharge.noOrders': '暂无充值记录', 'recharge.method': '方式', 'recharge.reason': '原因',
  'recharge.method.manual': '人工审核', 'recharge.method.code': '兑换码', 'recharge.method.open': '直接到账',

  'pricing.subtitle': '每百万 Tokens 价格({currency})', 'pricing.base': '基础价格', 'pricing.model': '模型', 'pricing.placeholder': '暂定',
  'pricing.placeholderHint': '该价格为暂定价格,可能调整', 'pricing.cacheNote': '缓存写入(5 分钟)默认为输入价的 1.25 倍,1 小时为 2 倍;缓存读取为输入价的 0.1 倍。',

  'status.active': '正常', 'status.disabled': '已禁用', 'status.expired': '已过期', 'status.healthy': '健康', 'status.cooling': '冷却中',
  'status.pending': '待审核', 'status.approved': '已批准', 'status.credited': '已入账', 'status.rejected': '已拒绝', 'status.redeemed': '已兑换',
  'status.revoked': '已作废', 'status.error': '错误',

  'adminOverview.subtitle': '实时流量、收入与上游成本', 'adminOverview.rpm': '每分钟请求', 'adminOverview.last5m': '最近 5 分钟',
  'adminOverview.errorRate': '错误率', 'adminOverview.active': '进行中的请求', 'adminOverview.revenueToday': '今日收入',
  'adminOverview.upstreamCost': '上游成本', 'adminOverview.marginToday': '今日毛利', 'adminOverview.margin': '毛利', 'adminOverview.errors': '错误',
  'adminOverview.poolLegend': '健康 / 冷却 / 禁用', 'adminOverview.pending': '待审核充值', 'adminOverview.revenueChart': '收入与成本(14 天)',
  'adminOverview.requestsChart': '请求与错误(14 天)', 'adminOverview.revenue': '收入', 'adminOverview.name': '名称',
  'adminOverview.topUsers': '今日用户排行', 'adminOverview.topModels': '今日模型排行', 'adminOverview.topAccounts': '今日上游账号排行',
  'adminOverview.jobs': '后台任务', 'adminOverview.lastRun': '上次运行', 'adminOverview.nextRun': '下次运行', 'adminOverview.lastError': '最近错误', 'adminOverview.interval': '间隔', 'adminOverview.runs': '运行 / 失败 / 跳过',
  'adminOverview.setAside': '暂存的用量记录', 'adminOverview.setAsideHelp': '数据库拒绝写入的已应答请求:保存在数据目录中,直到重新写入(已计费的记录不会重复计费)。', 'adminOverview.redrive': '重新写入', 'adminOverview.redriven': '已重新写入:成功 {written} 条,仍被拒绝 {failed} 条', 'adminOverview.request': '请求', 'adminOverview.error': '错误', 'adminOverview.cost': '费用', 'adminOverview.time': '时间',

  'pools.subtitle': '上游账号的健康状态、延迟与错误率,每 10 秒刷新', 'pools.add': '添加账号', 'pools.addTitle': '添加上游账号',
  'pools.editTitle': '编辑上游账号 {name}', 'pools.name': '名称', 'pools.protocol': '协议', 'pools.baseUrl': 'Base URL',
  'pools.proxy': '出站代理', 'pools.proxyPlaceholder': '留空 = 全局代理', 'pools.proxyHint': 'http://[用户:密码@]主机:端口、socks5:// 或 socks5h://;留空使用全局 upstream_proxy,direct 表示直连',
  'pools.baseUrlHint': '上游服务根地址,不带 /v1', 'pools.apiKey': 'API Key', 'pools.writeOnly': '只写字段:不会回显;留空则保持不变',
  'pools.writeOnlyNew': '只写字段:保存后不会再显示', 'pools.keepKey': '留空保持不变(当前 {masked})', 'pools.groups': '服务的分组',
  'pools.weight': '权重', 'pools.priority': '优先级', 'pools.priorityHint': '数值越大越优先', 'pools.maxConcurrency': '最大并发',
  'pools.zeroUnlimited': '0 为不限制', 'pools.models': '支持的模型', 'pools.allModels': '留空为全部', 'pools.modelMap': '模型映射',
  'pools.modelMapHint': 'JSON 对象:客户端模型 → 上游模型', 'pools.notes': '备注', 'pools.enabled': '启用', 'pools.badJson': '不是有效的 JSON 对象',
  'pools.key': '密钥', 'pools.reason': '原因', 'pools.cooldownLeft': '冷却剩余 {left}', 'pools.req5m': '5 分钟请求', 'pools.err5m': '5 分钟错误率',
  'pools.req1h': '1 小时', 'pools.inflight': '进行中', 'pools.today': '今日', 'pools.sticky': '粘性会话', 'pools.upstreamCost': '今日上游成本',
  'pools.latencyTrend': '延迟', 'pools.errorTrend': '错误率', 'pools.test': '立即测试', 'pools.testing': '正在测试 {name}…',
  'pools.testOk': '{name} 测试通过({ms})', 'pools.testFail': '{name} 测试失败:{error}', 'pools.enabledToast': '已启用 {name}',
  'pools.disabledToast': '已禁用 {name}', 'pools.confirmDelete': '确定删除上游账号「{name}」?', 'pools.empty': '还没有上游账号',
  'pools.total': '账号总数', 'pools.filterGroup': '按分组筛选', 'pools.allGroups': '全部分组',

  'users.subtitle': '搜索用户、调整余额、禁用账户', 'users.search': '搜索', 'users.searchPh': '邮箱、用户名或 ID', 'users.role': '角色',
  'users.admin': '管理员', 'users.user': '用户', 'users.created': '创建时间', 'users.adjust': '调整余额', 'users.adjustTitle': '调整 {name} 的余额',
  'users.current': '当前余额', 'users.amount': '调整金额', 'users.amountHint': '正数增加,负数扣减,例如 10 或 -2.5', 'users.reason': '原因(必填)',
  'users.adjusted': '已调整,新余额 {balance}', 'users.confirmDisable': '确定禁用用户「{name}」?其会话与密钥将立即失效。',
  'users.recent': '最近调用', 'users.account': '上游账号',

  'approvals.subtitle': '审核用户提交的充值申请', 'approvals.user': '用户', 'approvals.approve': '批准', 'approvals.reject': '拒绝',
  'approvals.rejectTitle': '拒绝充值申请', 'approvals.reason': '拒绝原因(可选)', 'approvals.approved': '已批准并入账 {amount}',
  'approvals.rejected': '已拒绝', 'approvals.empty': '没有待处理的充值申请',

  'codes.subtitle': '生成和管理兑换码', 'codes.create': '生成兑换码', 'codes.count': '数量', 'codes.created': '已生成 {n} 个兑换码',
  'codes.codes': '兑换码(每行一个)', 'codes.export': '导出 CSV', 'codes.redeemedBy': '兑换人', 'codes.revoke': '作废',
  'codes.confirmRevoke': '确定作废兑换码 {code}?',

  'prices.subtitle': '每百万 Tokens 的价格;修改只影响之后的请求', 'prices.add': '添加规则', 'prices.addTitle': '添加价格规则',
  'prices.editTitle': '编辑价格 {pattern}', 'prices.pattern': '模型匹配', 'prices.patternHint': '模型名或通配符,如 claude-opus-4*;最具体的规则优先',
  'prices.derived': '留空按输入价推算', 'prices.note': '备注', 'prices.placeholderLabel': '暂定价格(向用户标注)', 'prices.updated': '更新时间',
  'prices.confirmDelete': '确定删除价格规则 {pattern}?没有价格的模型将无法调用。',
  'prices.catalogue': '价格目录', 'prices.catalogueActive': '生效版本:{version}', 'prices.cataloguePending': '新版本 {version} 待审核:{n} 个模型价格有变化',
  'prices.catalogueApply': '应用 {version}', 'prices.catalogueApplied': '已应用价格目录 {version}', 'prices.catalogueConfirm': '应用价格目录 {version}?之后的请求按新价格计费。',
  'prices.source': '来源', 'prices.sourceOperator': '运营者', 'prices.sourceCatalogue': '目录', 'prices.review': '需复核', 'prices.overriddenBy': '被规则 {pattern} 覆盖',
  'prices.tiers': '长上下文', 'prices.variants': '服务等级', 'prices.webSearch': '网页搜索 / 千次', 'prices.change': '变化', 'prices.before': '原价', 'prices.after': '新价',
  'prices.operatorHint': '运营者规则总是优先于价格目录;未填写的缓存价格按该模型的比例随输入价变化。',
  'pricing.catalogueVersion': '价格来自价格目录 {version};标注“运营者”的为运营者修改的价格。', 'pricing.operatorChanged': '运营者',
  'pricing.aboveTier': '输入超过 {n} Tokens', 'pricing.webSearch': '网页搜索 {price} / 千次',
  'logs.part.long_context': '长上下文加价', 'logs.part.service_tier': '服务等级差价', 'logs.part.speed': '快速模式差价', 'logs.part.web_search': '网页搜索',
  'logs.baseModel': '按基础模型 {model} 计价',
  'prices.served': '账号池提供的模型:{n} 个({flagged} 个需注意)', 'prices.pricedBy': '计价规则', 'prices.baseModel': '按基础模型 {model}', 'prices.unpriced': '无价格,拒绝调用',

  'groups.title': '分组与倍率', 'groups.subtitle': '密钥所属分组决定协议与价格倍率(实际价格 = 基础价格 × 倍率)。', 'groups.name': '分组名',
  'groups.nameFixed': '分组名创建后不能修改', 'groups.multiplier': '倍率', 'groups.multiplierHint': '例如 1、1.25、0.8', 'groups.description': '说明',
  'groups.noAccounts': '没有上游账号', 'groups.add': '添加分组', 'groups.addTitle': '添加分组', 'groups.editTitle': '编辑分组 {name}',

  'rules.subtitle': '上游错误如何处理:按顺序匹配,第一条命中的规则生效', 'rules.status': '状态码', 'rules.action': '动作',
  'rules.seconds': '冷却秒数', 'rules.phase': '阶段', 'rules.error_type': '错误类型', 'rules.message_pattern': '消息匹配(正则)', 'rules.name': '说明',
  'rules.add': '添加规则', 'rules.reset': '恢复默认', 'rules.confirmReset': '确定恢复默认规则?当前的自定义规则将被清除。', 'rules.resetDone': '已恢复默认规则',
  'rules.up': '上移', 'rules.down': '下移', 'rules.defaultNote': '当前使用默认规则。', 'rules.customNote': '当前使用自定义规则。',
  'rules.help': '状态码可写 429、5xx,或 connect / timeout / stream_error;动作:pass 直接返回客户端,retry 换账号重试,cooldown 冷却指定秒数,cooldown_reset 冷却到上游给出的重置时间,disable 停用账号。阶段:before 为响应开始前,after 为流式响应开始后。',

  'settings.subtitle': '运行时设置,保存后立即生效', 'settings.rechargeMode': '充值方式', 'settings.rechargeModeHint': '用户在充值页面看到的方式',
  'settings.mode.manual': '人工审核(用户提交申请,管理员批准)', 'settings.mode.code': '兑换码', 'settings.mode.open': '直接到账(仅限可信或演示环境)',
  'settings.registrationOpen': '开放注册', 'settings.defaultRate': '默认速率限制(每分钟)', 'settings.retention': '日志保留天数',

  'audit.subtitle': '管理员的每一次修改', 'audit.action': '操作', 'audit.admin': '管理员', 'audit.target': '对象', 'audit.before': '修改前', 'audit.after': '修改后',
};

const en = {
  'app.name': 'Jiuliu Relay', 'app.tagline': 'Claude and Codex API relay',
  'common.actions': 'Actions', 'common.all': 'All', 'common.cancel': 'Cancel', 'common.close': 'Close', 'common.confirm': 'Please confirm',
  'common.copied': 'Copied', 'common.copy': 'Copy', 'common.copyFailed': 'Copy failed: select the text and copy it by hand', 'common.delete': 'Delete',
  'common.deleted': 'Deleted', 'common.details': 'Details', 'common.done': 'Done', 'common.edit': 'Edit', 'common.empty': 'Nothing here yet',
  'common.error': 'Error', 'common.filter': 'Filter', 'common.forbidden': 'You do not have access to this page', 'common.loading': 'Loading…',
  'common.next': 'Next', 'common.notFound': 'Page not found', 'common.ok': 'OK', 'common.page': 'Page {page}',
  'common.pageOf': 'Page {page} of {pages} · {total} rows', 'common.pagination': 'Pagination', 'common.prev': 'Previous',
  'common.refresh': 'Refresh', 'common.reset': 'Reset', 'common.save': 'Save', 'common.saved': 'Saved', 'common.search': 'Search',
  'common.skip': 'Skip to main content', 'common.status': 'Status', 'common.switchLang': '切换到中文', 'common.table': 'Data table',

  'nav.main': 'Main navigation', 'nav.console': 'Console', 'nav.admin': 'Operations', 'nav.menu': 'Menu',
  'nav.overview': 'Overview', 'nav.keys': 'API keys', 'nav.setup': 'Client setup', 'nav.logs': 'Usage logs', 'nav.transactions': 'Transactions',
  'nav.recharge': 'Recharge', 'nav.pricing': 'Pricing', 'nav.adminOverview': 'System overview', 'nav.pools': 'Upstream pools', 'nav.users': 'Users',
  'nav.approvals': 'Recharge approvals', 'nav.codes': 'Redeem codes', 'nav.prices': 'Prices', 'nav.errorRules': 'Error rules', 'nav.settings': 'Settings',
  'nav.audit': 'Audit log',

  'auth.login': 'Log in', 'auth.register': 'Register', 'auth.logout': 'Log out', 'auth.logoutFailed': 'Could not reach the relay: signed out here, but other sessions may still be active.', 'auth.loginTitle': 'Log in to the console', 'auth.registerTitle': 'Create an account',
  'auth.username': 'Username', 'auth.usernameHint': '3-32 characters: letters, digits, _, - or .', 'auth.email': 'Email', 'auth.password': 'Password',
  'auth.password2': 'Confirm password', 'auth.passwordHint': 'At least 8 characters', 'auth.mismatch': 'The passwords do not match',
  'auth.haveAccount': 'Already have an account?', 'auth.noAccount': 'No account yet?', 'auth.expired': 'Your session has expired: please log in again',

  'account.title': 'My account', 'account.password': 'Change password', 'account.old': 'Current password', 'account.new': 'New password', 'account.change': 'Change password',
  'account.changed': 'Password changed: sessions on other devices have ended',

  'overview.subtitle': 'Balance, spend and traffic at a glance', 'overview.balance': 'Balance', 'overview.today': 'Spend today', 'overview.last7': 'Spend, last 7 days',
  'overview.last30': 'Spend, last 30 days', 'overview.requests': 'Requests', 'overview.requestsUnit': 'requests', 'overview.tokens': 'Tokens',
  'overview.dailySpend': 'Daily spend and requests (30 days)', 'overview.dailyTokens': 'Daily tokens by kind', 'overview.byModel': 'Spend by model (30 days)',
  'overview.byKey': 'Spend by key (30 days)', 'overview.noUsage': 'No usage yet', 'overview.spend': 'Spend',
  'overview.utcNote': 'Periods are in UTC.',

  'keys.subtitle': 'Create and manage the keys your clients call the API with', 'keys.create': 'Create key', 'keys.createTitle': 'Create an API key', 'keys.name': 'Name',
  'keys.defaultName': 'My key', 'keys.group': 'Group', 'keys.rateLimit': 'Rate limit', 'keys.rateDefault': 'Default', 'keys.rateHint': 'Requests per minute, 0 = unlimited; empty = the system default',
  'keys.expiresAt': 'Expires', 'keys.optional': 'Optional: empty = never expires', 'keys.models': 'Allowed models', 'keys.modelsHint': 'Optional, comma-separated, * wildcards; empty = all models',
  'keys.spendQuota': 'Spend limit', 'keys.quotaHint': 'Optional: the key stops once it has spent this much; 0 = no limit',
  'keys.codexHint': 'Codex users: the key must be in the Codex group (codex). Claude tools need the claude group.',
  'keys.createdTitle': 'Key created', 'keys.onceWarning': 'The full key is shown only this once: copy it now and keep it safe. It cannot be shown again.',
  'keys.fullKey': 'Full key', 'keys.groupIs': 'Group: {group}', 'keys.setupClients': 'Set up clients', 'keys.setup': 'Setup',
  'keys.enable': 'Enable', 'keys.disable': 'Disable', 'keys.confirmDelete': 'Delete the key "{name}"? Clients using it stop working at once.',
  'keys.deletedToast': 'Key deleted', 'keys.disabledToast': 'Key disabled', 'keys.enabledToast': 'Key enabled', 'keys.empty': 'No keys yet: click "Create key" to start',
  'keys.unlimited': 'Unlimited', 'keys.usage': 'Usage', 'keys.lastUsed': 'Last used', 'keys.never': 'Never', 'keys.deleted': 'deleted',

  'setup.subtitle': 'Configuration for popular AI coding tools, with this relay and your key filled in', 'setup.chooseKey': 'Key', 'setup.noKey': '(none)',
  'setup.baseUrl': 'Base URL:', 'setup.filled': 'The key you just created is filled in. Save it now: after leaving this page only a placeholder is shown.',
  'setup.placeholder': 'For safety the full key is shown only at creation. Replace {placeholder} in the configuration with the key you saved.',
  'setup.createFirst': 'Create a key first.', 'setup.thenRun': 'Then run:',
  'setup.needCodex': 'This key is not in the codex group, so Codex CLI cannot use it. Create a key in the codex group.',
  'setup.needClaude': 'This key is in the codex group: it only works with Codex (OpenAI Responses protocol). Claude tools need a claude-group key.',
  'setup.intro.claude-code': 'Claude Code in the terminal: set environment variables (recommended) or use the settings file.',
  'setup.intro.vscode': 'The Claude Code extension for VS Code:',
  'setup.intro.opencode': 'Edit the OpenCode configuration (or opencode.jsonc):',
  'setup.opencodeNote': 'Note: use the anthropic protocol, not the openai one, or calls may fail.',
  'setup.intro.openclaw': 'Edit the OpenClaw configuration, then restart its gateway:',
  'setup.intro.codex': 'Edit both Codex CLI files (base_url is the relay root, without /v1):',
  'setup.intro.curl': 'Call the API directly with cURL:', 'setup.intro.python': 'With the official Anthropic Python SDK:', 'setup.intro.node': 'With the official Anthropic Node.js SDK:',
  'setup.checkedWith': 'Checked with {client}.',
  'setup.vscodeSameFile': 'The Claude Code extension for VS Code reads the same ~/.claude/settings.json as the CLI: this file is all it needs.',
  'setup.vscodeOutdated': 'The "claude-code.env" setting from older guides is no longer read; the extension\'s own setting is claudeCode.environmentVariables (a list of {name, value}).',
  'setup.openclawNode': 'Current OpenClaw needs Node.js ≥ 24.16 (v25 is refused; v26.1 and later work).',
  'setup.openclawRun': 'Restart the gateway with openclaw gateway restart where a system service manager runs it; in a container or WSL without one, run it in the foreground with openclaw gateway run. One-off try: openclaw agent --local -m "hello".',
  'setup.openclawDoctor': 'Warning: providers go under models.providers. A top-level "providers" block from older guides makes OpenClaw reject the whole file ("Unrecognized key: providers"), and the openclaw doctor --fix it suggests deletes that provider block entirely: rewrite it as above instead of running doctor --fix.',

  'logs.subtitle': 'Tokens and cost of every call; expand a row for its breakdown', 'logs.key': 'Key', 'logs.allKeys': 'All keys', 'logs.model': 'Model',
  'logs.from': 'From', 'logs.to': 'To', 'logs.time': 'Time', 'logs.inOut': 'In / out', 'logs.cache': 'Cache read / write', 'logs.cost': 'Cost',
  'logs.latency': 'Latency', 'logs.empty': 'No matching requests', 'logs.export': 'Export CSV', 'logs.exported': 'Exported {n} rows',
  'logs.breakdown': 'Cost breakdown', 'logs.kind': 'Kind', 'logs.tokens': 'Tokens', 'logs.pricePerM': 'Price / 1M tokens', 'logs.charge': 'Charge',
  'logs.total': 'Charged', 'logs.requestId': 'Request ID', 'logs.priceRule': 'Price rule', 'logs.endpoint': 'Endpoint', 'logs.ttft': 'Time to first token',
  'logs.upstreamId': 'Upstream request ID', 'logs.reasoningNote': '(included in output)', 'logs.roundingNote': 'The charge is the exact sum rounded once to 0.000001, so it may differ from the sum of the lines by 0.000001.',
  'logs.estimated': 'Estimated', 'logs.estimateNote': 'The stream was cut before the upstream reported its final usage; billed on an estimate: {method}.',
  'logs.estimate.message_start+streamed': 'input as the upstream\'s message_start reported it, output from the text, tool arguments and thinking actually streamed (UTF-8 bytes ÷ 4)',
  'logs.estimate.request_body+streamed': 'input estimated from the request body, output from the text, tool arguments and reasoning summary actually streamed (UTF-8 bytes ÷ 4); reasoning tokens never streamed are not billed',
  'logs.serviceTier': 'Service tier', 'logs.webSearches': 'Web searches', 'logs.speed': 'Speed',
  'logs.estimate.request_body+cache_hint+streamed': 'input estimated from the request body, up to the input the upstream last reported for the same prompt_cache_key counted as cache reads; output from what was actually streamed (UTF-8 bytes ÷ 4); reasoning tokens never streamed are not billed',

  'tokens.input': 'Input', 'tokens.output': 'Output', 'tokens.cache_write_5m': 'Cache write (5 min)', 'tokens.cache_write_1h': 'Cache write (1 h)',
  'tokens.cache_read': 'Cache read', 'tokens.reasoning': 'Reasoning',

  'tx.subtitle': 'Every change of your balance', 'tx.allTypes': 'All types', 'tx.typeLabel': 'Type', 'tx.description': 'Description', 'tx.amount': 'Amount',
  'tx.balanceAfter': 'Balance after', 'tx.ref': 'Reference', 'tx.empty': 'No transactions yet',
  'tx.rows': '{n} requests', 'tx.rowsTitle': 'Requests in this charge',
  'tx.type.recharge': 'Recharge', 'tx.type.charge': 'API usage', 'tx.type.refund': 'Refund', 'tx.type.adjustment': 'Adjustment', 'tx.type.redeem': 'Redeem code',

  'recharge.subtitle': 'Add funds to your account', 'recharge.orderTitle': 'Recharge', 'recharge.codeTitle': 'Redeem a code', 'recharge.amount': 'Amount',
  'recharge.description': 'Note', 'recharge.descPh': 'e.g. bank transfer', 'recharge.quick': 'Quick amounts', 'recharge.submitOrder': 'Submit request',
  'recharge.topUp': 'Top up now', 'recharge.code': 'Code', 'recharge.redeem': 'Redeem', 'recharge.redeemDesc': 'Redeem code',
  'recharge.credited': 'Done: {amount} credited, balance now {balance}.', 'recharge.pending': 'Your request for {amount} awaits an operator\'s approval.',
  'recharge.modeManual': 'Recharges are requests an operator approves.', 'recharge.modeCode': 'Recharges use redeem codes: enter a code from the operator.',
  'recharge.modeOpen': 'Recharges are credited at once.',
  'recharge.history': 'Recharge history', 'recharge.noOrders': 'No recharges yet', 'recharge.method': 'Method', 'recharge.reason': 'Reason',
  'recharge.method.manual': 'Approval', 'recharge.method.code': 'Code', 'recharge.method.open': 'Direct',

  'pricing.subtitle': 'Prices per million tokens ({currency})', 'pricing.base': 'Base prices', 'pricing.model': 'Model', 'pricing.placeholder': 'provisional',
  'pricing.placeholderHint': 'A provisional price that may change', 'pricing.cacheNote': 'Cache writes cost 1.25× input (5 minutes) or 2× (1 hour) by default; cache reads 0.1× input.',

  'status.active': 'Active', 'status.disabled': 'Disabled', 'status.expired': 'Expired', 'status.healthy': 'Healthy', 'status.cooling': 'Cooling down',
  'status.pending': 'Pending', 'status.approved': 'Approved', 'status.credited': 'Credited', 'status.rejected': 'Rejected', 'status.redeemed': 'Redeemed',
  'status.revoked': 'Revoked', 'status.error': 'Error',

  'adminOverview.subtitle': 'Live traffic, revenue and upstream cost', 'adminOverview.rpm': 'Requests / minute', 'adminOverview.last5m': 'last 5 minutes',
  'adminOverview.errorRate': 'Error rate', 'adminOverview.active': 'Requests in flight', 'adminOverview.revenueToday': 'Revenue today',
  'adminOverview.upstreamCost': 'Upstream cost', 'adminOverview.marginToday': 'Margin today', 'adminOverview.margin': 'Margin', 'adminOverview.errors': 'Errors',
  'adminOverview.poolLegend': 'healthy / cooling / disabled', 'adminOverview.pending': 'Pending recharges', 'adminOverview.revenueChart': 'Revenue and cost (14 days)',
  'adminOverview.requestsChart': 'Requests and errors (14 days)', 'adminOverview.revenue': 'Revenue', 'adminOverview.name': 'Name',
  'adminOverview.topUsers': 'Top users today', 'adminOverview.topModels': 'Top models today', 'adminOverview.topAccounts': 'Top upstream accounts today',
  'adminOverview.jobs': 'Background jobs', 'adminOverview.lastRun': 'Last run', 'adminOverview.nextRun': 'Next run', 'adminOverview.lastError': 'Last error', 'adminOverview.interval': 'Every', 'adminOverview.runs': 'Runs / failed / skipped',
  'adminOverview.setAside': 'Usage records set aside', 'adminOverview.setAsideHelp': 'Answered calls the database refused to record: kept in the data directory until re-driven (a record already charged changes nothing).', 'adminOverview.redrive': 'Re-drive', 'adminOverview.redriven': 'Re-driven: {written} written, {failed} still refused', 'adminOverview.request': 'Request', 'adminOverview.error': 'Error', 'adminOverview.cost': 'Cost', 'adminOverview.time': 'Time',

  'pools.subtitle': 'Health, latency and errors of upstream accounts, refreshed every 10 s', 'pools.add': 'Add account', 'pools.addTitle': 'Add an upstream account',
  'pools.editTitle': 'Edit upstream account {name}', 'pools.name': 'Name', 'pools.protocol': 'Protocol', 'pools.baseUrl': 'Base URL',
  'pools.proxy': 'Outbound proxy', 'pools.proxyPlaceholder': 'empty = the global proxy', 'pools.proxyHint': 'http://[user:pass@]host:port, socks5:// or socks5h://; empty uses the global upstream_proxy, direct bypasses it',
  'pools.baseUrlHint': 'The upstream root, without /v1', 'pools.apiKey': 'API key', 'pools.writeOnly': 'Write-only: never shown; leave empty to keep it',
  'pools.writeOnlyNew': 'Write-only: not shown again after saving', 'pools.keepKey': 'Leave empty to keep (now {masked})', 'pools.groups': 'Groups served',
  'pools.weight': 'Weight', 'pools.priority': 'Priority', 'pools.priorityHint': 'Higher goes first', 'pools.maxConcurrency': 'Max concurrency',
  'pools.zeroUnlimited': '0 = unlimited', 'pools.models': 'Models', 'pools.allModels': 'empty = all', 'pools.modelMap': 'Model map',
  'pools.modelMapHint': 'JSON object: client model → upstream model', 'pools.notes': 'Notes', 'pools.enabled': 'Enabled', 'pools.badJson': 'Not a valid JSON object',
  'pools.key': 'key', 'pools.reason': 'Reason', 'pools.cooldownLeft': 'Cooling down: {left} left', 'pools.req5m': 'Requests 5m', 'pools.err5m': 'Errors 5m',
  'pools.req1h': '1 hour', 'pools.inflight': 'In flight', 'pools.today': 'Today', 'pools.sticky': 'Sticky sessions', 'pools.upstreamCost': 'Upstream cost today',
  'pools.latencyTrend': 'Latency', 'pools.errorTrend': 'Errors', 'pools.test': 'Test now', 'pools.testing': 'Testing {name}…',
  'pools.testOk': '{name} passed ({ms})', 'pools.testFail': '{name} failed: {error}', 'pools.enabledToast': '{name} enabled',
  'pools.disabledToast': '{name} disabled', 'pools.confirmDelete': 'Delete the upstream account "{name}"?', 'pools.empty': 'No upstream accounts yet',
  'pools.total': 'Accounts', 'pools.filterGroup': 'Filter by group', 'pools.allGroups': 'All groups',

  'users.subtitle': 'Find users, adjust balances, disable accounts', 'users.search': 'Search', 'users.searchPh': 'Email, username or ID', 'users.role': 'Role',
  'users.admin': 'Admin', 'users.user': 'User', 'users.created': 'Created', 'users.adjust': 'Adjust balance', 'users.adjustTitle': 'Adjust the balance of {name}',
  'users.current': 'Current balance', 'users.amount': 'Amount', 'users.amountHint': 'Positive adds, negative deducts, e.g. 10 or -2.5', 'users.reason': 'Reason (required)',
  'users.adjusted': 'Adjusted: new balance {balance}', 'users.confirmDisable': 'Disable the user "{name}"? Their sessions and keys stop working at once.',
  'users.recent': 'Recent requests', 'users.account': 'Upstream account',

  'approvals.subtitle': 'Approve or reject users\' recharge requests', 'approvals.user': 'User', 'approvals.approve': 'Approve', 'approvals.reject': 'Reject',
  'approvals.rejectTitle': 'Reject the recharge', 'approvals.reason': 'Reason (optional)', 'approvals.approved': 'Approved: {amount} credited',
  'approvals.rejected': 'Rejected', 'approvals.empty': 'No recharge requests waiting',

  'codes.subtitle': 'Create and manage redeem codes', 'codes.create': 'Create codes', 'codes.count': 'Count', 'codes.created': '{n} codes created',
  'codes.codes': 'Codes (one per line)', 'codes.export': 'Export CSV', 'codes.redeemedBy': 'Redeemed by', 'codes.revoke': 'Revoke',
  'codes.confirmRevoke': 'Revoke the code {code}?',

  'prices.subtitle': 'Prices per million tokens; changes apply to later requests only', 'prices.add': 'Add rule', 'prices.addTitle': 'Add a price rule',
  'prices.editTitle': 'Edit price {pattern}', 'prices.pattern': 'Model pattern', 'prices.patternHint': 'A model name or wildcard such as claude-opus-4*; the most specific rule wins',
  'prices.derived': 'empty = derived from input', 'prices.note': 'Note', 'prices.placeholderLabel': 'Provisional price (marked for users)', 'prices.updated': 'Updated',
  'prices.confirmDelete': 'Delete the price rule {pattern}? Models without a price cannot be called.',
  'prices.catalogue': 'Price catalogue', 'prices.catalogueActive': 'In force: {version}', 'prices.cataloguePending': 'Version {version} awaits review: {n} models change',
  'prices.catalogueApply': 'Apply {version}', 'prices.catalogueApplied': 'Price catalogue {version} applied', 'prices.catalogueConfirm': 'Apply the price catalogue {version}? Later requests are charged at its prices.',
  'prices.source': 'Source', 'prices.sourceOperator': 'operator', 'prices.sourceCatalogue': 'catalogue', 'prices.review': 'review', 'prices.overriddenBy': 'overridden by {pattern}',
  'prices.tiers': 'Long context', 'prices.variants': 'Service tiers', 'prices.webSearch': 'Web search / 1K', 'prices.change': 'Change', 'prices.before': 'Before', 'prices.after': 'After',
  'prices.operatorHint': 'An operator rule always beats the catalogue; cache prices left empty follow the input price by the model\'s ratios.',
  'pricing.catalogueVersion': 'Prices come from the price catalogue {version}; rules marked "operator" were changed by the operator.', 'pricing.operatorChanged': 'operator',
  'pricing.aboveTier': 'input above {n} tokens', 'pricing.webSearch': 'web search {price} / 1K',
  'logs.part.long_context': 'Long-context premium', 'logs.part.service_tier': 'Service tier difference', 'logs.part.speed': 'Fast mode difference', 'logs.part.web_search': 'Web search',
  'logs.baseModel': 'priced as its base model {model}',
  'prices.served': 'Models the pools offer: {n} ({flagged} to check)', 'prices.pricedBy': 'Priced by', 'prices.baseModel': 'as base model {model}', 'prices.unpriced': 'no price: refused',

  'groups.title': 'Groups and multipliers', 'groups.subtitle': 'A key\'s group sets its protocol and price multiplier (price = base price × multiplier).', 'groups.name': 'Group',
  'groups.nameFixed': 'A group\'s name cannot change', 'groups.multiplier': 'Multiplier', 'groups.multiplierHint': 'e.g. 1, 1.25, 0.8', 'groups.description': 'Description',
  'groups.noAccounts': 'no upstream account', 'groups.add': 'Add group', 'groups.addTitle': 'Add a group', 'groups.editTitle': 'Edit group {name}',

  'rules.subtitle': 'How upstream errors are handled: checked in order, the first match applies', 'rules.status': 'Status', 'rules.action': 'Action',
  'rules.seconds': 'Cooldown (s)', 'rules.phase': 'Phase', 'rules.error_type': 'Error type', 'rules.message_pattern': 'Message (regex)', 'rules.name': 'Description',
  'rules.add': 'Add rule', 'rules.reset': 'Reset to defaults', 'rules.confirmReset': 'Reset to the default rules? Your custom rules will be removed.', 'rules.resetDone': 'Default rules restored',
  'rules.up': 'Move up', 'rules.down': 'Move down', 'rules.defaultNote': 'The default rules are in use.', 'rules.customNote': 'Custom rules are in use.',
  'rules.help': 'Status: a code such as 429, a class such as 5xx, or connect / timeout / stream_error. Actions: pass returns the error to the client, retry tries another account, cooldown rests the account for the given seconds, cooldown_reset until the upstream\'s reset time, disable switches it off. Phase: before the response starts, or after a stream has started.',

  'settings.subtitle': 'Runtime settings, effective on save', 'settings.rechargeMode': 'Recharge mode', 'settings.rechargeModeHint': 'How users recharge on the Recharge page',
  'settings.mode.manual': 'Approval (users request, an operator approves)', 'settings.mode.code': 'Redeem codes', 'settings.mode.open': 'Direct (trusted or demo deployments only)',
  'settings.registrationOpen': 'Registration open', 'settings.defaultRate': 'Default rate limit (per minute)', 'settings.retention': 'Keep logs for (days)',

  'audit.subtitle': 'Every change an operator made', 'audit.action': 'Action', 'audit.admin': 'Operator', 'audit.target': 'Target', 'audit.before': 'Before', 'audit.after': 'After',
};

export const DICTS = { zh, en };
let lang = (() => {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch (_) { /* storage unavailable */ }
  return browserLang();
})();

/** No choice made yet: the browser's preferred languages (what it sends as Accept-Language), zh by default. */
function browserLang() {
  const prefs = (typeof navigator !== 'undefined' && (navigator.languages || [navigator.language])) || [];
  for (const tag of prefs) {
    const primary = String(tag || '').toLowerCase().split('-')[0];
    if (primary === 'zh' || primary === 'en') return primary;
  }
  return 'zh';
}
const listeners = [];
const warned = new Set();

export function getLang() { return lang; }
export function setLang(next) {
  if (next !== 'zh' && next !== 'en') return;
  lang = next;
  try { localStorage.setItem(LANG_KEY, next); } catch (_) { /* ignore */ }
  listeners.forEach((fn) => fn(next));
}
export function onLangChange(fn) { listeners.push(fn); }

export function t(key, vars) {
  let s = DICTS[lang][key];
  if (s === undefined) {
    s = DICTS[lang === 'zh' ? 'en' : 'zh'][key];
    if (s === undefined) {
      if (!warned.has(key) && !/^status\.|^tx\.type\.|^recharge\.method\./.test(key)) { warned.add(key); console.warn('i18n: missing', key); }
      return key;
    }
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? m : String(vars[k])));
  return s;
}
