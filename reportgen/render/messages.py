"""The message catalogue: every human-readable string of the report, in en and zh."""

from __future__ import annotations

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "title": ("Monthly health assessment", "月度健康评估报告"),
    "contract_availability": ("Contract availability", "合同可用率"),
    "fault_time": ("Fault time", "故障时长"),
    "planned_time": ("Planned work", "计划维护"),
    "contract_note": (
        "Contract availability = 1 − fault time / covered time, both outside planned "
        "work{hours}; a fault is time down{slow}.",
        "合同可用率 = 1 − 故障时长 / 覆盖时长，均不含计划维护时间{hours}；故障指不可用{slow}。",
    ),
    "contract_note.business": (", within business hours only", "，仅计工作时间"),
    "contract_note.slow": (" or slower than the SLA response time", "或响应慢于 SLA 响应时间"),
    "maintenance": ("Planned maintenance", "计划维护"),
    "reason": ("Reason", "原因"),
    "recurring": ("recurring", "周期性"),
    "from": ("From", "开始"),
    "to": ("To", "结束"),
    "incident_list": ("Incidents", "事件列表"),
    "folded": ("Folded alerts", "合并的告警"),
    "measured_slow": ("measured slow period (no alert)", "实测缓慢时段（无告警）"),
    "weekly_p95": ("Response time by week", "每周响应时间"),
    "checklist": ("Inspection checklist", "巡检项"),
    "docx.page": ("Page", "第"),
    "docx.contract": ("Contract number", "合同编号"),
    "docx.service_period": ("Service period", "服务期限"),
    "docx.version": ("Version", "版本"),
    "docx.prepared_by": ("Prepared by", "编制人"),
    "docx.item": ("Item", "项目"),
    "docx.detail": ("Detail", "内容"),
    "docx.sign_off": ("Sign-off", "签字确认"),
    "docx.party": ("Party", "单位"),
    "docx.signature": ("Signature and stamp", "签字及盖章"),
    "docx.date": ("Date", "日期"),
    "docx.provider": ("Service provider", "服务方"),
    "docx.client": ("Customer", "客户方"),
    "assessment": ("Assessment", "运行评估"),
    "overall_assessment": ("Overall assessment", "总体评估"),
    "q.operation": ("How the system ran", "系统运行情况"),
    "q.stability": ("Stability", "系统稳定性"),
    "q.performance": ("Performance", "性能是否最优"),
    "q.advice": ("Advice for optimisation and operation", "优化与运维建议"),
    "engineer_notes": ("The engineer's notes", "工程师意见"),
    "engineer_mark": ("written by the service engineer", "由服务工程师填写"),
    "note.findings": ("Findings", "检查发现"),
    "note.work_done": ("Work done this period", "本期工作"),
    "note.advice": ("Advice", "建议"),
    "check_area.database": ("Database", "数据库"),
    "check_area.services": ("Services", "服务"),
    "check_area.logs": ("App-server logs", "应用日志"),
    "check_area.integrations": ("Integrations", "系统间接口"),
    "check_area.exchange": ("Data exchange", "数据交换"),
    "check_area.backups": ("Backups", "备份"),
    "check_area.servers": ("Servers", "服务器"),
    "check_item": ("Item", "检查项"),
    "check_value": ("Measured", "测量值"),
    "check_threshold": ("Threshold", "阈值"),
    "check_result": ("Result", "结果"),
    "result.normal": ("normal", "正常"),
    "result.attention": ("attention", "需关注"),
    "result.abnormal": ("abnormal", "异常"),
    "result.no_data": ("no data", "无数据"),
    "check.database_up": ("Database up", "数据库可用"),
    "check.filesystem_used": ("Space used", "空间使用率"),
    "check.days_until_full": ("Days until full", "预计写满天数"),
    "check.connections": ("Connections / max", "连接数 / 上限"),
    "check.cache_hit": ("Cache hit", "缓存命中率"),
    "check.deadlocks": ("Deadlocks", "死锁"),
    "check.long_transactions": ("Longest transaction", "最长事务"),
    "check.database_log_errors": ("Database log errors", "数据库日志错误"),
    "check.replication_lag": ("Replication lag", "复制延迟"),
    "check.wal_archiving": ("WAL archive failures", "WAL 归档失败"),
    "check.service_up": ("Service up", "服务可用"),
    "check.contract_availability": ("Contract availability", "合同可用率"),
    "check.p95_response": ("p95 response time", "p95 响应时间"),
    "check.tls_days_left": ("TLS certificate days left", "TLS 证书剩余天数"),
    "check.log_error_lines": ("Error log lines", "错误日志行数"),
    "check.integration_up": ("Integration up", "接口可用"),
    "check.integration_latency": ("Integration latency", "接口延迟"),
    "check.exchange_runs": ("Runs", "运行次数"),
    "check.exchange_failures": ("Failed runs", "失败次数"),
    "check.exchange_missed_deadlines": ("Missed deadlines", "超时未完成"),
    "check.exchange_backlog": ("Oldest backlog", "积压最久"),
    "check.backup_age": ("Last success age (max)", "距上次成功（最长）"),
    "check.backup_verified": ("Days verified", "校验通过天数比例"),
    "check.backup_size_change": ("Smallest size change", "最小大小变化"),
    "week_from": ("Week from", "周起始"),
    "customer": ("Customer", "客户"),
    "systems": ("Systems", "系统"),
    "period": ("Period", "统计周期"),
    "timezone": ("Time zone", "时区"),
    "coverage": ("Data coverage", "数据覆盖率"),
    "generated": ("Generated", "生成时间"),
    "summary": ("Executive summary", "总体评价"),
    "overall": ("Overall", "总体"),
    "grade": ("Grade", "评级"),
    "sla_met": ("SLA met", "SLA 达成"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "top_actions": ("Top actions", "优先处理事项"),
    "no_actions": ("No action needed.", "无需处理事项。"),
    "no_data": ("no data", "无数据"),
    "healthy": ("healthy", "健康"),
    "attention": ("attention", "需关注"),
    "critical": ("critical", "严重"),
    "area.availability": ("Availability", "可用性"),
    "area.stability": ("Stability", "稳定性"),
    "area.performance": ("Performance", "性能"),
    "area.capacity": ("Capacity", "容量"),
    "area.backups": ("Data protection", "数据保护"),
    "area.exchange": ("Data exchange", "数据交换"),
    "area.logs": ("Logs", "日志"),
    "recommendations": ("Recommendations", "优化建议"),
    "appendix": ("Appendix: method", "附录：统计方法"),
    "service_record": ("Service record", "服务记录"),
    "sr_totals": (
        "{handled} handled, {resolved} resolved, {open} open; median time to "
        "acknowledge {tta}, to resolve {ttr}",
        "处理 {handled} 项，已解决 {resolved} 项，未结 {open} 项；确认时间中位数 {tta}，"
        "解决时间中位数 {ttr}",
    ),
    "sr_item": ("Item", "事项"),
    "sr_status": ("Status", "状态"),
    "sr_notes": ("Handling notes", "处理记录"),
    "sr_approvals": ("Approvals", "客户确认"),
    "sr_open": ("Open items", "未结事项"),
    "sr_faq": ("Most frequent", "高频问题"),
    "system": ("System", "系统"),
    "name": ("Name", "名称"),
    "services": ("Services", "服务"),
    "integrations": ("Integrations", "系统间接口"),
    "databases": ("Databases", "数据库"),
    "sla_target": ("SLA target", "SLA 目标"),
    "availability_ratio": ("Availability", "可用率"),
    "downtime": ("Downtime", "停机时长"),
    "outages": ("Outages", "中断次数"),
    "longest_outage": ("Longest outage", "最长中断"),
    "daily_availability": ("Daily availability", "每日可用率"),
    "hourly_availability": ("Hourly availability", "每小时可用率"),
    "alert": ("Alert", "告警"),
    "severity": ("Severity", "级别"),
    "started": ("Started", "开始"),
    "ended": ("Ended", "结束"),
    "duration": ("Duration", "持续时间"),
    "ongoing": ("ongoing", "持续中"),
    "incidents": ("Incidents", "事件数"),
    "mttr": ("Mean time to resolve", "平均恢复时间"),
    "noisiest": ("Noisiest alerts", "最频繁告警"),
    "merge_note": (
        "Firing samples less than {tol} apart are merged into one incident.",
        "间隔不超过 {tol} 的告警样本合并为同一事件。",
    ),
    "no_incidents": ("No incidents.", "无告警事件。"),
    "p50": ("p50", "p50"),
    "p95": ("p95", "p95"),
    "sla_response": ("SLA response time", "SLA 响应时间"),
    "slow_periods": ("Slow periods", "响应缓慢时段"),
    "slow_time": ("Slow time", "缓慢总时长"),
    "week": ("Week from", "周起始"),
    "commits_per_second": ("Commits/s", "每秒提交"),
    "cache_hit_ratio": ("Cache hit ratio", "缓存命中率"),
    "rollbacks": ("Rollbacks", "回滚"),
    "deadlocks": ("Deadlocks", "死锁"),
    "longest_transaction": ("Longest transaction", "最长事务"),
    "slow_queries_peak": ("Slow queries (peak)", "慢查询（峰值）"),
    "slow_statements": ("Completed slow statements", "已完成的慢语句"),
    "slow_statements_total": (
        "{n} this period; busiest day {day}: {top}",
        "本期 {n} 条；最多的一天 {day}：{top} 条",
    ),
    "slowest_statements": ("Slowest statements (mean time per call)", "最慢的语句（平均每次耗时）"),
    "statement": ("Statement", "语句"),
    "calls": ("Calls", "执行次数"),
    "mean_time": ("Mean", "平均"),
    "total_time": ("Total", "合计"),
    "statement_not_shown": ("(text not shown: not a data statement)", "（非数据语句，不显示文本）"),
    "size_start": ("Size at start", "期初大小"),
    "size_end": ("Size at end", "期末大小"),
    "growth_per_day": ("Growth per day", "日增长"),
    "fs_used": ("Filesystem used", "文件系统使用率"),
    "days_until_full": ("Days until full", "预计写满天数"),
    "connections": ("Peak connections / max", "峰值连接数 / 上限"),
    "forecast_method": ("Forecast method", "预测方法"),
    "forecast_text": (
        "least-squares line through the data filesystem's used space at the end of each hour; "
        "days until full = free space at the end of the period divided by that growth per day. "
        "The same line through the database's own size gives its growth, shown for comparison.",
        "对每小时末数据文件系统的已用空间做最小二乘直线拟合；"
        "预计写满天数 = 期末剩余空间 ÷ 日增长量。"
        "对数据库自身大小做同样拟合得到其增长量，供对比。",
    ),
    "backups": ("Backups", "备份"),
    "verified_days": ("Days with a verified backup", "有已校验备份的天数"),
    "max_age": ("Max backup age", "最长备份间隔"),
    "backup_size": ("Latest size", "最新备份大小"),
    "wal_failures": ("WAL archiving failures", "WAL 归档失败次数"),
    "exchange_jobs": ("Exchange jobs", "数据交换任务"),
    "runs": ("Runs", "运行次数"),
    "failures": ("Failures", "失败次数"),
    "success_ratio": ("Success ratio", "成功率"),
    "missed_deadlines": ("Missed deadlines", "错过截止时间"),
    "records": ("Records", "记录数"),
    "backlog_peak": ("Backlog peak (files)", "积压峰值（文件）"),
    "source": ("Source", "日志源"),
    "errors": ("Error lines", "错误行数"),
    "warnings": ("Warning lines", "警告行数"),
    "evidence": ("Evidence", "依据"),
    "runbook": ("Runbook", "处置手册"),
    "queries": ("PromQL queries used", "使用的 PromQL 查询"),
    "query_count": ("Queries", "查询次数"),
    "watchdog": ("Watchdog heartbeat seen", "Watchdog 心跳覆盖"),
    "scrape_jobs": ("Prometheus scrape success by job", "Prometheus 各采集任务成功率"),
    "collectors": ("Collector success", "采集器成功率"),
    "method_text": (
        "Availability counts only time with data: up samples divided by all samples, "
        "summed per target before the ratio; time without samples is reported as "
        "coverage. Samples are counted in {bucket} buckets; outages, slow periods and "
        "overdue jobs are found at {step} resolution.",
        "可用率仅统计有数据的时间：按目标汇总后以“正常样本数 ÷ 全部样本数”计算，"
        "无数据的时间计入覆盖率而非视为正常。"
        "样本按 {bucket} 分桶计数；中断、缓慢时段和逾期任务按 {step} 粒度识别。",
    ),
    "mom": ("Month over month", "环比"),
    "previous": ("Previous period", "上期"),
    "change": ("Change", "变化"),
    "stack_alerts": ("Monitoring-stack incidents", "监控平台自身事件"),
    # severities (alert labels and recommendations)
    "severity.critical": ("critical", "严重"),
    "severity.warning": ("warning", "警告"),
    "severity.info": ("info", "提示"),
    "severity.none": ("none", "无"),
    # access-log traffic
    "traffic": ("Traffic (access logs)", "访问量（访问日志）"),
    "requests": ("Requests", "请求数"),
    "requests_per_day": ("Requests per day", "日均请求数"),
    "daily_requests": ("Requests per day (5xx in red)", "每日请求数（红色为 5xx）"),
    "peak_hour": ("Peak hour", "峰值小时"),
    "busiest_hour_of_day": ("Busiest hour of day", "最繁忙时段"),
    "error_5xx_ratio": ("5xx ratio", "5xx 比例"),
    "slow_request_ratio": ("Requests over the SLA time", "超出 SLA 响应时间的请求"),
    # capacity
    "fs_used_start_end": ("Filesystem used (start → end)", "文件系统使用率（期初 → 期末）"),
    "fs_growth_per_day": ("Filesystem growth per day", "文件系统日增长"),
    "days_by_db_growth": (
        "Days until full (database growth only)",
        "预计写满天数（仅按数据库增长）",
    ),
    "table_growth": ("Table growth (top growers)", "表增长（增长最快）"),
    "table": ("Table", "表"),
    "growth": ("Growth", "增长"),
    "partial_note": (
        "* reported for part of the period only (entered or left the top-N tables)",
        "* 仅部分时间被统计（进入或退出前 N 大表）",
    ),
    "other_tables": ("other tables", "其他表"),
    # data protection
    "success_days": ("Days with a backup", "有备份的天数"),
    "verify_failed_days": ("Days with a failed verification", "校验失败的天数"),
    "days_missing_verified": ("Days without a verified backup", "缺少已校验备份的日期"),
    "wal_archiving": ("WAL archiving", "WAL 归档"),
    "wal_archived": ("Segments archived", "已归档段数"),
    "wal_failure_days": ("Days with failures", "失败天数"),
    "database": ("Database", "数据库"),
    # month over month
    "area": ("Area", "领域"),
    "target": ("Target", "对象"),
    "figure": ("Figure", "指标"),
    "current": ("This period", "本期"),
    "fig.availability_ratio": ("availability", "可用率"),
    "fig.downtime_seconds": ("downtime", "停机时长"),
    "fig.p50_seconds": ("p50", "p50"),
    "fig.p95_seconds": ("p95", "p95"),
    "fig.requests": ("requests", "请求数"),
    "fig.error_5xx_ratio": ("5xx ratio", "5xx 比例"),
    "fig.commits_per_second": ("commits/s", "每秒提交"),
    "fig.deadlocks": ("deadlocks", "死锁"),
    "fig.cache_hit_ratio": ("cache hit ratio", "缓存命中率"),
    "fig.size_bytes_end": ("size at end", "期末大小"),
    "fig.growth_bytes": ("growth", "增长量"),
    "fig.filesystem_used_ratio_end": ("filesystem used", "文件系统使用率"),
    "fig.peak_connections": ("peak connections", "峰值连接数"),
    "fig.days_with_verified_success": ("days with a verified backup", "有已校验备份的天数"),
    "fig.max_age_seconds": ("max backup age", "最长备份间隔"),
    "fig.failures": ("failures", "失败次数"),
    "fig.runs": ("runs", "运行次数"),
    "fig.missed_deadlines": ("missed deadlines", "错过截止时间"),
    "fig.incidents": ("incidents", "事件数"),
    "fig.incidents_critical": ("critical incidents", "严重事件数"),
    "fig.incidents_warning": ("warning incidents", "警告事件数"),
    "fig.incidents_info": ("info incidents", "提示事件数"),
    "fig.mean_time_to_resolve_seconds": ("mean time to resolve", "平均恢复时间"),
    "fig.wal_archive_failures": ("WAL archiving failures", "WAL 归档失败次数"),
    "runbook_index": ("runbook index", "处置手册索引"),
    "fig.error_lines": ("error lines", "错误行数"),
    "fig.warning_lines": ("warning lines", "警告行数"),
    # recommendation texts
    "rec.availability_below_sla": (
        (
            "Availability of {target} is below the SLA target; review the outages and their root "
            "causes."
        ),
        "{target} 可用率低于 SLA 目标，请复盘中断事件及其根因。",
    ),
    "rec.low_coverage": (
        "Monitoring data for {target} is incomplete; check the exporter and scrape path.",
        "{target} 的监控数据不完整，请检查采集器及抓取链路。",
    ),
    "rec.noisy_alert": (
        "Alert {target} fired repeatedly; fix the cause or tune the rule.",
        "告警 {target} 反复触发，请消除原因或调整规则。",
    ),
    "rec.slow_p95": (
        "Response time of {target} exceeds the SLA; profile the slow requests.",
        "{target} 响应时间超出 SLA，请分析慢请求。",
    ),
    "rec.slow_periods": (
        "{target} had slow periods; correlate them with load and database activity.",
        "{target} 存在响应缓慢时段，请结合负载及数据库活动分析。",
    ),
    "rec.deadlocks": (
        "Database {target} had deadlocks; review the transaction order of the application.",
        "数据库 {target} 出现死锁，请检查应用的事务加锁顺序。",
    ),
    "rec.disk_full_forecast": (
        "The data filesystem of {target} will fill up; plan the expansion or archive data.",
        "{target} 的数据文件系统将被写满，请规划扩容或归档数据。",
    ),
    "rec.backup_stale": (
        "Backup {target} was missing for too long; check the backup job.",
        "备份 {target} 长时间缺失，请检查备份任务。",
    ),
    "rec.backup_unverified_days": (
        "Backup {target} lacked a verified copy on some days.",
        "备份 {target} 有若干天缺少已校验的备份。",
    ),
    "rec.exchange_missed_deadlines": (
        "Exchange job {target} missed deadlines; check the schedule and the receiving side.",
        "数据交换任务 {target} 错过截止时间，请检查调度及对端。",
    ),
    "rec.exchange_failures": (
        "Exchange job {target} failed some runs; review its logs.",
        "数据交换任务 {target} 有运行失败，请查看其日志。",
    ),
    "rec.log_errors": (
        "Log source {target} has the most error lines; review the top messages.",
        "日志源 {target} 错误行最多，请分析主要错误信息。",
    ),
    "rec.integration_below_sla": (
        (
            "Availability of the link {target} is below the SLA target; review its outages with "
            "the other system's team."
        ),
        "系统间接口 {target} 可用率低于 SLA 目标，请与对端系统团队复盘中断。",
    ),
    "rec.http_errors": (
        (
            "Access log {target} shows server errors (5xx); find the failing requests in the "
            "application log."
        ),
        "访问日志 {target} 存在服务端错误（5xx），请在应用日志中定位失败的请求。",
    ),
    "rec.slow_requests": (
        (
            "Many requests in {target} took longer than the SLA response time; profile the slowest "
            "URLs."
        ),
        "{target} 中较多请求超出 SLA 响应时间，请分析最慢的 URL。",
    ),
    "rec.connections_near_max": (
        (
            "Connections of {target} came close to the maximum; review the connection pools or "
            "raise the limit."
        ),
        "{target} 的连接数接近上限，请检查连接池配置或提高上限。",
    ),
    "rec.backup_verification_failed": (
        "Verification of backup {target} failed on some days; restore-test the latest copy.",
        "备份 {target} 有若干天校验失败，请对最新备份做恢复测试。",
    ),
    "rec.wal_archive_failures": (
        "WAL archiving of {target} failed; check the archive_command and the archive storage.",
        "{target} 的 WAL 归档失败，请检查 archive_command 及归档存储。",
    ),
}


def catalogue(lang: str):
    """A translate function ``t(key, **fields)`` for ``lang``."""
    index = 0 if lang == "en" else 1

    def t(key: str, **fields) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return text.format(**fields) if fields else text

    return t


def has_message(key: str) -> bool:
    return key in MESSAGES
