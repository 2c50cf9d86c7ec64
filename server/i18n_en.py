"""English for every catalogued message, keyed by its Chinese template (``server.i18n``).

Placeholders are the same as the key's; a test fails when a raised template has no English
here, when an entry is no longer raised anywhere, or when the placeholders differ.
"""

from __future__ import annotations

EN: dict[str, str] = {
    # errors.py defaults and the web layer
    "内部错误": "Internal error",
    "请求无效": "Invalid request",
    "账户余额不足,请充值": "Insufficient balance, please recharge",
    "没有权限": "Permission denied",
    "资源不存在": "Not found",
    "资源已存在": "Already exists",
    "请求体过大": "Request body too large",
    "请求过于频繁,请稍后再试": "Too many requests, please try again later",
    "上游服务暂时不可用,请稍后再试":
        "The upstream service is temporarily unavailable, please try again later",
    "数据库暂时不可用,请稍后重试": "The database is temporarily unavailable, please try again later",
    "接口不存在": "No such endpoint",
    "不支持该请求方法": "Method not allowed",
    # request bodies (jsonbody.py)
    "请求体过大(上限 {max_bytes} 字节)": "Request body too large (limit {max_bytes} bytes)",
    "请求体必须是 JSON 对象": "The request body must be a JSON object",
    "请求体不是有效的 JSON: {exc}": "The request body is not valid JSON: {exc}",
    # fields (accounts/fields.py, accounts/times.py)
    "缺少字段 {name}": "Missing field {name}",
    "{name} 必须是字符串": "{name} must be a string",
    "{name} 含有不可见或控制字符": "{name} contains invisible or control characters",
    "{name} 不能为空": "{name} must not be empty",
    "{name} 至少需要 {min_len} 个字符": "{name} needs at least {min_len} characters",
    "{name} 不能超过 {max_len} 个字符": "{name} must not exceed {max_len} characters",
    "{name} 必须是整数": "{name} must be an integer",
    "{name} 必须在 {minimum} 到 {maximum} 之间": "{name} must be between {minimum} and {maximum}",
    "{name} 必须是数字或数字字符串": "{name} must be a number or a numeric string",
    '{name} 必须是非负的十进制数,例如 "100" 或 "12.5"':
        '{name} must be a non-negative decimal number, e.g. "100" or "12.5"',
    "{name} 超出上限 {limit}": "{name} exceeds the limit of {limit}",
    "{name} 必须大于 0": "{name} must be greater than 0",
    "{name} 不能为负数": "{name} must not be negative",
    "{name} 必须是字符串数组": "{name} must be an array of strings",
    "{name} 最多 {max_items} 项": "{name} may have at most {max_items} items",
    "{name} 必须是非负整数": "{name} must be a non-negative integer",
    "{name} 不是有效的金额": "{name} is not a valid amount",
    "{name} 的每一项都必须是非空字符串": "every item of {name} must be a non-empty string",
    "{name} 含有无效的项 {item!r}": "{name} contains an invalid item {item!r}",
    "{name} 最多 6 位小数": "{name} may have at most 6 decimal places",
    "{name} 必须是布尔值": "{name} must be a boolean",
    "{field} 不是有效的时间": "{field} is not a valid time",
    "{field} 必须是 ISO 8601 时间字符串": "{field} must be an ISO 8601 time string",
    "{field} 超出有效范围(1970-01-01 至 9999-12-30)": "{field} is out of range (1970-01-01 to 9999-12-30)",
    "{field} 必须是 ISO 8601 时间字符串,例如 2025-01-31T08:00:00Z":
        "{field} must be an ISO 8601 time string, e.g. 2025-01-31T08:00:00Z",
    "未知字段 {field}": "Unknown field {field}",
    "缺少字段 {kind}": "Missing field {kind}",
    "缺少字段 rules": "Missing field rules",
    "无效的 id": "Invalid id",
    # users and sessions
    "邮箱或密码错误": "Wrong email or password",
    "邮箱格式不正确": "Invalid email address",
    "用户名需为 3-32 个字符,只能包含文字、数字、下划线、连字符和点":
        "The username must be 3-32 characters of letters, digits, underscores, hyphens and dots",
    "密码至少需要 {MIN_LENGTH} 个字符": "The password needs at least {MIN_LENGTH} characters",
    "密码不能超过 {MAX_LENGTH} 个字符": "The password must not exceed {MAX_LENGTH} characters",
    "密码不能包含空字符": "The password must not contain NUL characters",
    "注册已关闭,请联系管理员": "Registration is closed, please contact the administrator",
    "原密码不正确": "The current password is wrong",
    "登录状态已变化,请重新登录": "Your session has changed, please log in again",
    "未登录或登录已过期,请重新登录": "Not logged in or the session has expired, please log in again",
    "用户不存在": "No such user",
    "交易记录不存在": "No such transaction",
    "账户已被禁用": "This account is disabled",
    "该邮箱已被注册": "This email is already registered",
    "该用户名已被使用": "This username is already taken",
    "登录失败次数过多,请在 {seconds} 秒后重试": "Too many failed logins, try again in {seconds} seconds",
    "需要管理员权限": "Administrator rights required",
    "不能禁用自己的账户": "You cannot disable your own account",
    # API keys
    "无效的 API Key": "Invalid API key",
    "分组 {group} 不存在": "Group {group} does not exist",
    "expiresAt 必须晚于当前时间": "expiresAt must be in the future",
    "每个账户最多 {limit} 个 API Key": "At most {limit} API keys per account",
    "API Key 不存在": "No such API key",
    "API Key 已过期": "The API key has expired",
    "API Key 已禁用": "The API key is disabled",
    # recharges and codes
    "兑换码无效": "Invalid recharge code",
    "兑换码不存在": "No such recharge code",
    "兑换码已被使用": "This recharge code has already been used",
    "兑换码已作废": "This recharge code has been revoked",
    "兑换码已过期": "This recharge code has expired",
    "兑换码格式不正确": "Malformed recharge code",
    "兑换码不存在或已不可用": "No such recharge code, or it can no longer be used",
    "该订单已入账,不能拒绝": "This order has already been credited and cannot be rejected",
    "该订单已被拒绝,不能再批准": "This order has been rejected and cannot be approved",
    "amount 必须大于 0 且不超过 1000000": "amount must be greater than 0 and at most 1000000",
    "count 必须在 1 到 1000 之间": "count must be between 1 and 1000",
    "expires_at 必须晚于当前时间": "expires_at must be in the future",
    "amount 必须大于 0": "amount must be greater than 0",
    "充值订单不存在": "No such recharge order",
    "当前充值方式为兑换码,请填写兑换码": "Recharges are by code at the moment: please enter a code",
    "待审核的充值订单过多,请等待管理员处理":
        "Too many recharge orders are pending review, please wait for an administrator",
    "amount 必须是十进制数字符串,可为负数,例如 \"-12.5\"":
        "amount must be a decimal string, possibly negative, e.g. \"-12.5\"",
    "amount 不能为 0,且绝对值不超过 1000000": "amount must not be 0 and its absolute value at most 1000000",
    "amount 最多 6 位小数": "amount may have at most 6 decimal places",
    "amount 必须是非负的十进制数字符串(例如 \"5\"),或 null 恢复默认":
        "amount must be a non-negative decimal string (e.g. \"5\"), or null for the default",
    "amount 不超过 1000000": "amount must be at most 1000000",
    "API Key 已达到消费额度上限": "The API key has reached its spending quota",
    "并发请求过多,请稍后再试": "Too many concurrent requests, please try again later",
    # operators: groups, settings, prices, rules, upstreams, logs
    "status 必须是 {choices} 之一": "status must be one of {choices}",
    "type 必须是 {choices} 之一": "type must be one of {choices}",
    "recharge_mode 必须是 {choices} 之一": "recharge_mode must be one of {choices}",
    "multiplier 必须是十进制数字符串,例如 \"1.25\"": "multiplier must be a decimal string, e.g. \"1.25\"",
    "multiplier 必须在 0 到 100 之间": "multiplier must be between 0 and 100",
    "multiplier 必须是十进制数字符串(最多 6 位小数)":
        "multiplier must be a decimal string (at most 6 decimal places)",
    "multiplier 必须是非负数": "multiplier must not be negative",
    "name 只能包含字母、数字、下划线、点和连字符":
        "name may contain only letters, digits, underscores, dots and hyphens",
    "分组不存在": "No such group",
    "分组已存在": "The group already exists",
    "未知字段 {field}(分组名不能修改)": "Unknown field {field} (a group's name cannot be changed)",
    "未知的设置项 {field}": "Unknown setting {field}",
    "未知的设置项 {name}": "Unknown setting {name}",
    "registration_open 必须是布尔值": "registration_open must be a boolean",
    "{name} 必须是 {low} 到 {high} 之间的整数": "{name} must be an integer between {low} and {high}",
    "pattern 必须是模型名或通配符(如 claude-opus-*)":
        "pattern must be a model name or a wildcard (e.g. claude-opus-*)",
    "placeholder 必须是布尔值": "placeholder must be a boolean",
    "价格规则不存在": "No such price rule",
    "没有待应用的价格目录版本 {version!r}(待审核:{pending!r})":
        "No pending price catalogue version {version!r} to apply (pending review: {pending!r})",
    "该模式的价格规则已存在": "A price rule for this pattern already exists",
    "价格目录中没有该模型": "The price catalogue has no such model",
    "价格目录条目不能删除:新增同名规则即可覆盖它":
        "Catalogue entries cannot be deleted: add a rule of the same name to override it",
    "rules 必须是 1 到 {MAX_RULES} 条规则的数组": "rules must be an array of 1 to {MAX_RULES} rules",
    "rules[{i}] 必须是对象": "rules[{i}] must be an object",
    "base_url 必须是 http:// 或 https:// 开头的地址": "base_url must start with http:// or https://",
    "base_url 不能包含查询参数、片段或用户名密码":
        "base_url must not contain a query, a fragment or user credentials",
    'model_map 必须是对象(最多 200 项),例如 {"claude-x": "claude-y"}':
        'model_map must be an object (at most 200 entries), e.g. {"claude-x": "claude-y"}',
    "model_map 含有无效的映射 {source!r}": "model_map contains an invalid mapping {source!r}",
    "name 只能包含字母、数字、下划线、点、@ 和连字符(最多 64 个字符)":
        "name may contain only letters, digits, underscores, dots, @ and hyphens (at most 64 characters)",
    "protocol 必须是 {choices}": "protocol must be {choices}",
    "api_key 只能包含可见的 ASCII 字符(不能有空白、中文或全角字符)":
        "api_key may contain only visible ASCII characters (no whitespace, Chinese or full-width characters)",
    "base_url 的端口必须在 1–65535 之间,且地址只能包含可见的 ASCII 字符(国际化域名请写成 xn-- 形式)":
        "base_url's port must be 1–65535 and the address only visible ASCII characters "
        "(write internationalised domain names in their xn-- form)",
    "proxy 必须是字符串": "proxy must be a string",
    "proxy {reason}(留空 = 使用全局代理,direct = 不使用代理)":
        "proxy: {reason} (empty = the global proxy, direct = no proxy)",
    "代理地址为空": "the proxy address is empty",
    "代理地址只能包含可见的 ASCII 字符": "the proxy address may contain only visible ASCII characters",
    "代理地址必须以 http://、socks5:// 或 socks5h:// 开头":
        "the proxy address must start with http://, socks5:// or socks5h://",
    "代理地址缺少主机名": "the proxy address has no host name",
    "代理端口必须在 1–65535 之间": "the proxy port must be 1–65535",
    "代理地址必须写明端口(1–65535),例如 http://127.0.0.1:3128":
        "the proxy address must name its port (1–65535), e.g. http://127.0.0.1:3128",
    "代理地址不能包含路径、查询参数或片段":
        "the proxy address must not contain a path, a query or a fragment",
    "上游账号不存在": "No such upstream account",
    "已存在同名的上游账号": "An upstream account with this name already exists",
    "model 过长": "model is too long",
    "before 与 offset 不能同时使用": "before and offset cannot be used together",
    "before 无效,请使用上一页返回的 next_cursor": "Invalid before: use the next_cursor of the previous page",
}
