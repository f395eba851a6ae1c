//! Every string the web UI shows, in Chinese and English: [`Ui`] for the pages, [`Ws`] for
//! workshop mode. (Lab text comes from the labs; the languages themselves and the
//! bilingual [`Text`](crate::i18n::Text) type are in [`crate::i18n`].)

use crate::engine::StepState;
use crate::i18n::Lang;

/// The UI's words in one language; templates read them as `t.<field>`.
#[derive(Debug)]
pub struct Ui {
    /// The language's `<html lang>` code.
    pub html_lang: &'static str,
    /// Product tagline under the name.
    pub tagline: &'static str,
    /// Skip link for keyboard users.
    pub skip_to_content: &'static str,
    /// Heading of the chapter list.
    pub chapters: &'static str,
    /// Home page introduction.
    pub home_intro: &'static str,
    /// "steps done" after `n / total`.
    pub steps_done: &'static str,
    /// Link to open a chapter.
    pub open_lab: &'static str,
    /// Link to continue a chapter already started.
    pub continue_lab: &'static str,
    /// Badge of a chapter whose steps are all done.
    pub lab_complete: &'static str,
    /// Breadcrumb back to all chapters.
    pub all_chapters: &'static str,
    /// "Step" before a step's number.
    pub step: &'static str,
    /// A step the learner has not reached yet.
    pub state_not_started: &'static str,
    /// A step the learner is on.
    pub state_in_progress: &'static str,
    /// A step done.
    pub state_passed: &'static str,
    /// A step done once whose checks do not hold any more.
    pub state_regressed: &'static str,
    /// The panel of a regressed step.
    pub result_regressed: &'static str,
    /// The panel of a step in progress whose checks fail before the learner pressed Check.
    pub result_todo: &'static str,
    /// The panel of a step whose checks held before the learner touched it.
    pub result_await_work: &'static str,
    /// The panel of a confirmation step whose checks hold.
    pub result_await_confirm: &'static str,
    /// A failing check before the learner pressed Check.
    pub verdict_todo: &'static str,
    /// A question not answered yet.
    pub question_unanswered: &'static str,
    /// A pending check without the author's words.
    pub pending_generic: &'static str,
    /// kubelab re-runs this step's unwatchable checks by itself.
    pub recheck_note: &'static str,
    /// Above the list of checks of a step not started.
    pub will_check: &'static str,
    /// The Check button of a step without checks.
    pub mark_done: &'static str,
    /// Set up replaced the learner's object.
    pub action_replaced: &'static str,
    /// Set up left the learner's object as it is.
    pub action_yours: &'static str,
    /// Set up stopped at an object in the way.
    pub setup_in_the_way: &'static str,
    /// The learner made the object and it differs.
    pub obstacle_yours: &'static str,
    /// Set up never changes what the learner made.
    pub obstacle_yours_after: &'static str,
    /// The object cannot be changed in place.
    pub obstacle_immutable: &'static str,
    /// kubelab's object holds someone else's list items.
    pub obstacle_merged: &'static str,
    /// The Replace offer.
    pub replace_offer: &'static str,
    /// Before the objects Replace deletes.
    pub replace_confirm: &'static str,
    /// Replace's confirmation button.
    pub replace_yes: &'static str,
    /// Reset kept an object the learner made.
    pub kept_yours: &'static str,
    /// Reset kept a namespace another chapter uses.
    pub kept_used_by: &'static str,
    /// Reset kept an object kubelab did not create.
    pub kept_not_ours: &'static str,
    /// Reset kept the learner's workshop namespace.
    pub kept_learner_namespace: &'static str,
    /// Offer to delete what the learner made, after a reset.
    pub reset_delete_yours: &'static str,
    /// Its button.
    pub reset_delete_yes: &'static str,
    /// A reset of the lab from elsewhere (another page, the instructor).
    pub reset_elsewhere: &'static str,
    /// The lab page's notice when the learner's workshop ended while it was open.
    pub workshop_ended_live: &'static str,
    /// Unfolds a long value found in the cluster.
    pub show_whole_value: &'static str,
    /// Set up button.
    pub set_up: &'static str,
    /// Explanation next to the Set up button.
    pub set_up_help: &'static str,
    /// Check button.
    pub check: &'static str,
    /// Shown while a request runs.
    pub working: &'static str,
    /// Copy button.
    pub copy: &'static str,
    /// Copy button after copying.
    pub copied: &'static str,
    /// Copy button when the clipboard refused.
    pub copy_failed: &'static str,
    /// Hint disclosure, first one ("Show a hint").
    pub show_hint: &'static str,
    /// Hint disclosure, later ones ("Show another hint").
    pub show_another_hint: &'static str,
    /// Reset button.
    pub reset_lab: &'static str,
    /// Reset confirmation text.
    pub reset_confirm: &'static str,
    /// Reset confirmation button.
    pub reset_yes: &'static str,
    /// Heading of the reset result.
    pub reset_done: &'static str,
    /// Reset: objects deleted.
    pub reset_deleted: &'static str,
    /// Reset: nothing to delete.
    pub reset_nothing: &'static str,
    /// Reset: objects kept.
    pub reset_kept: &'static str,
    /// Result heading after a check that passed.
    pub result_passed: &'static str,
    /// Result heading after a check that failed.
    pub result_failed: &'static str,
    /// Result heading after a check that is pending.
    pub result_pending: &'static str,
    /// Result heading after a check with errors.
    pub result_error: &'static str,
    /// "checked at" before a time.
    pub checked_at: &'static str,
    /// Verdict label: passed.
    pub verdict_passed: &'static str,
    /// Verdict label: failed.
    pub verdict_failed: &'static str,
    /// Verdict label: pending.
    pub verdict_pending: &'static str,
    /// Verdict label: error.
    pub verdict_error: &'static str,
    /// Diagnostics table: field column.
    pub col_field: &'static str,
    /// Diagnostics table: expected column.
    pub col_expected: &'static str,
    /// Diagnostics table: found column.
    pub col_found: &'static str,
    /// Shown for the empty path (the object as a whole).
    pub whole_object: &'static str,
    /// "closest match" before an object name.
    pub closest: &'static str,
    /// A step with no checks.
    pub no_checks: &'static str,
    /// Set-up result heading.
    pub setup_done: &'static str,
    /// Set-up result heading when the API server refused an object.
    pub setup_refused: &'static str,
    /// Set-up result heading when kubelab refused an object (not for a workshop).
    pub setup_refused_by_kubelab: &'static str,
    /// Set-up result heading when an object is still being deleted.
    pub setup_busy: &'static str,
    /// Set-up: created.
    pub action_created: &'static str,
    /// Set-up: configured.
    pub action_configured: &'static str,
    /// Set-up: unchanged.
    pub action_unchanged: &'static str,
    /// Set-up: the API server said.
    pub api_server_said: &'static str,
    /// Set-up: from file.
    pub from_file: &'static str,
    /// Set-up: what to do next.
    pub setup_next: &'static str,
    /// Banner: no cluster.
    pub no_cluster: &'static str,
    /// Banner: how to start one.
    pub no_cluster_help: &'static str,
    /// Banner: or pick a context.
    pub no_cluster_context: &'static str,
    /// Banner: checking.
    pub checking_cluster: &'static str,
    /// Header: connected to.
    pub cluster_label: &'static str,
    /// Language toggle label.
    pub language: &'static str,
    /// Title of the 404 page.
    pub not_found_title: &'static str,
    /// Body of the 404 page.
    pub not_found_body: &'static str,
    /// Title of other error pages.
    pub error_title: &'static str,
    /// Link home on error pages.
    pub back_home: &'static str,
    /// Empty catalog.
    pub no_labs: &'static str,
    /// Footer text.
    pub footer: &'static str,
    /// Message when a form lost its security token.
    pub csrf_failed: &'static str,
    /// Generic message for database failures.
    pub store_failed: &'static str,
    /// Message when a step has nothing to set up.
    pub nothing_to_set_up: &'static str,
    /// Hint about the page reloading without JavaScript.
    pub hints_label: &'static str,
    /// Placeholder of a question's answer field.
    pub answer_placeholder: &'static str,
    /// Placeholder of a field that takes a token (verified, never kept).
    pub token_placeholder: &'static str,
    /// Label of the group of questions above Check.
    pub questions_label: &'static str,
    /// Before the time spent on the current step.
    pub on_step_for: &'static str,
    /// Before how long a done step took.
    pub took: &'static str,
    /// Hours unit.
    pub unit_h: &'static str,
    /// Minutes unit.
    pub unit_min: &'static str,
    /// Seconds unit.
    pub unit_s: &'static str,
    /// Heading of the live view of the lab's objects.
    pub live_title: &'static str,
    /// The live view before any of the lab's objects exist.
    pub live_empty: &'static str,
    /// Live table: kind column.
    pub col_kind: &'static str,
    /// Live table: name column.
    pub col_name: &'static str,
    /// Live table: status column.
    pub col_status: &'static str,
    /// Live table: age column.
    pub col_age: &'static str,
    /// Live indicator before the stream is open.
    pub conn_connecting: &'static str,
    /// Live indicator: watching the cluster.
    pub conn_live: &'static str,
    /// Live indicator: watches reconnecting.
    pub conn_reconnecting: &'static str,
    /// Live indicator: no cluster.
    pub conn_unavailable: &'static str,
    /// Live indicator: the page lost kubelab itself.
    pub conn_server: &'static str,
    /// Explains that steps turn green by themselves.
    pub live_help: &'static str,
    /// Shown when a hint is offered after being stuck.
    pub hint_offer: &'static str,
    /// Heading of the panel when a lab is complete.
    pub celebrate_title: &'static str,
    /// Text of the panel when a lab is complete.
    pub celebrate_body: &'static str,
    /// Before the total time of a lab.
    pub total_time: &'static str,
    /// Link to the next chapter.
    pub next_chapter: &'static str,
    /// Heading of the list of steps done with their times.
    pub what_you_did: &'static str,
    /// A step of the summary that is not done.
    pub not_done_yet: &'static str,
}

static EN: Ui = Ui {
    html_lang: "en",
    tagline: "Guided Kubernetes labs that check themselves",
    skip_to_content: "Skip to content",
    chapters: "Chapters",
    home_intro: "Read a chapter, press Set up to create what it needs in your cluster, run kubectl yourself, then press Check: kubelab looks at the cluster and tells you, field by field, what is right and what is not yet.",
    steps_done: "steps done",
    open_lab: "Start",
    continue_lab: "Continue",
    lab_complete: "Complete",
    all_chapters: "All chapters",
    step: "Step",
    state_not_started: "Not started",
    state_in_progress: "In progress",
    state_passed: "Done",
    state_regressed: "Done, now failing",
    result_regressed: "You did this step, but its checks do not hold any more.",
    result_todo: "Still to do",
    result_await_work: "These checks already held when this step started, so they do not show your work yet: do the step, and it turns green by itself.",
    result_await_confirm: "Everything is in place. Press Check to confirm you have done this step.",
    verdict_todo: "to do",
    question_unanswered: "Type your answer, then press Check.",
    pending_generic: "Not there yet: kubelab keeps watching and updates this by itself.",
    recheck_note: "No watch sees everything this step checks (commands in your containers, what the API server serves, who may do what), so kubelab checks it again by itself every few seconds: no need to press anything.",
    will_check: "What kubelab will check",
    mark_done: "Mark as done",
    action_replaced: "replaced",
    action_yours: "yours, left as is",
    setup_in_the_way: "Something is in the way",
    obstacle_yours: "You made this object (kubelab did not), and it differs from the lab's version here:",
    obstacle_yours_after: "Set up never changes what you made.",
    obstacle_immutable: "This object exists and cannot be changed in place: most of a Pod's spec is fixed once the Pod is created.",
    obstacle_merged: "This object is kubelab's, but it also holds items someone else added. Server-side apply keeps items it does not own, so the object still differs from the lab's version:",
    replace_offer: "Replace it with the lab's version",
    replace_confirm: "This deletes",
    replace_yes: "Yes, delete it and create the lab's",
    kept_yours: "made by you: deleted only if you ask",
    kept_used_by: "kubelab created it, but this chapter still uses it:",
    kept_not_ours: "not created by kubelab",
    kept_learner_namespace: "your workshop namespace",
    reset_delete_yours: "Also delete what you made for this lab",
    reset_delete_yes: "Delete them",
    reset_elsewhere: "This lab was reset.",
    workshop_ended_live: "This workshop has ended: the cluster space it gave you is being removed. Thank you for taking part!",
    show_whole_value: "Show the whole value",
    set_up: "Set up",
    set_up_help: "Creates this step's objects in your cluster.",
    check: "Check",
    working: "Working…",
    copy: "Copy",
    copied: "Copied",
    copy_failed: "Press Ctrl+C",
    show_hint: "Show a hint",
    show_another_hint: "Show another hint",
    reset_lab: "Reset lab",
    reset_confirm: "This deletes what kubelab created for this lab and forgets your progress in it. What you made yourself stays (you can delete it afterwards), and so does anything another chapter still uses.",
    reset_yes: "Yes, reset this lab",
    reset_done: "The lab was reset",
    reset_deleted: "Deleted",
    reset_nothing: "There was nothing to delete.",
    reset_kept: "Kept on purpose",
    result_passed: "All checks passed",
    result_failed: "Not there yet",
    result_pending: "On its way",
    result_error: "Some checks could not be evaluated",
    checked_at: "checked at",
    verdict_passed: "passed",
    verdict_failed: "failed",
    verdict_pending: "pending",
    verdict_error: "error",
    col_field: "Field",
    col_expected: "Expected",
    col_found: "Found",
    whole_object: "(the object)",
    closest: "Closest match",
    no_checks: "This step has nothing to check: read it and move on.",
    setup_done: "Set up done",
    setup_refused: "The API server refused an object",
    setup_refused_by_kubelab: "kubelab refused an object",
    setup_busy: "An object is still being deleted",
    action_created: "created",
    action_configured: "configured",
    action_unchanged: "unchanged",
    api_server_said: "The API server said",
    from_file: "from",
    setup_next: "Now follow the step, then press Check.",
    no_cluster: "No Kubernetes cluster is reachable.",
    no_cluster_help: "Start one with",
    no_cluster_context: "or choose another kubeconfig context with",
    checking_cluster: "Checking the cluster…",
    cluster_label: "Cluster",
    language: "Language",
    not_found_title: "Page not found",
    not_found_body: "There is nothing here. The lab or step may have been renamed.",
    error_title: "Something went wrong",
    back_home: "Back to the chapters",
    no_labs: "No labs are installed yet.",
    footer: "kubelab — labs run against your own cluster; nothing leaves this machine.",
    csrf_failed: "This form has expired or did not come from kubelab. Reload the page and try again.",
    store_failed: "kubelab could not read or save your progress. The details are in the server log; check that the database file is writable.",
    nothing_to_set_up: "This step has nothing to set up.",
    hints_label: "Hints",
    answer_placeholder: "Your answer",
    token_placeholder: "Paste the token (it is verified, never kept)",
    questions_label: "Questions",
    on_step_for: "On this step for",
    took: "Took",
    unit_h: "h",
    unit_min: "min",
    unit_s: "s",
    live_title: "In your cluster",
    live_empty: "None of this lab's objects exist yet.",
    col_kind: "Kind",
    col_name: "Name",
    col_status: "Status",
    col_age: "Age",
    conn_connecting: "Connecting…",
    conn_live: "Live",
    conn_reconnecting: "Reconnecting to the cluster…",
    conn_unavailable: "No cluster",
    conn_server: "Reconnecting to kubelab…",
    live_help: "Steps turn green by themselves as soon as the cluster is right; Check shows the details at any time.",
    hint_offer: "Stuck for a while? Here is a hint.",
    celebrate_title: "Lab complete!",
    celebrate_body: "You did every step of this chapter on a real cluster.",
    total_time: "Total time",
    next_chapter: "Next chapter",
    what_you_did: "What you did",
    not_done_yet: "not done yet",
};

static ZH: Ui = Ui {
    html_lang: "zh-CN",
    tagline: "会自己检查的 Kubernetes 实验",
    skip_to_content: "跳到正文",
    chapters: "章节",
    home_intro: "阅读一章，点击“准备环境”在集群中创建所需对象，自己运行 kubectl，然后点击“检查”：kubelab 会查看集群，逐个字段告诉你哪些已经正确、哪些还没有。",
    steps_done: "步已完成",
    open_lab: "开始",
    continue_lab: "继续",
    lab_complete: "已完成",
    all_chapters: "全部章节",
    step: "步骤",
    state_not_started: "未开始",
    state_in_progress: "进行中",
    state_passed: "已完成",
    state_regressed: "曾完成，现未满足",
    result_regressed: "这一步你已经完成过，但它的检查现在不再满足。",
    result_todo: "还没做",
    result_await_work: "这一步开始时，这些检查就已经满足了，所以还看不出是你做的：完成这一步的操作，它会自己变绿。",
    result_await_confirm: "一切就绪。请点击“检查”，确认你已完成这一步。",
    verdict_todo: "待完成",
    question_unanswered: "输入你的答案，然后点击“检查”。",
    pending_generic: "还没到：kubelab 会持续观察，并自动更新这里。",
    recheck_note: "这一步检查的内容（在你的容器里运行的命令、API server 提供的内容、谁有什么权限）没有监视能看到，所以 kubelab 每隔几秒会自动重新检查，你不需要点击任何按钮。",
    will_check: "kubelab 将检查",
    mark_done: "标记为完成",
    action_replaced: "已替换",
    action_yours: "你的，保持原样",
    setup_in_the_way: "有对象挡住了",
    obstacle_yours: "这个对象是你创建的（不是 kubelab），它与本实验的版本在这些地方不同：",
    obstacle_yours_after: "“准备环境”从不修改你创建的对象。",
    obstacle_immutable: "这个对象已经存在，而且无法原地修改：Pod 的大部分 spec 在创建后就固定了。",
    obstacle_merged: "这个对象是 kubelab 创建的，但里面还有别人添加的条目。服务端应用（server-side apply）会保留不属于它的条目，所以这个对象仍与本实验的版本不同：",
    replace_offer: "用本实验的版本替换它",
    replace_confirm: "这会删除",
    replace_yes: "确定删除并创建本实验的版本",
    kept_yours: "你创建的：只有你要求时才会删除",
    kept_used_by: "由 kubelab 创建，但这一章仍在使用：",
    kept_not_ours: "不是 kubelab 创建的",
    kept_learner_namespace: "你的工作坊命名空间",
    reset_delete_yours: "同时删除你为本实验创建的对象",
    reset_delete_yes: "删除它们",
    reset_elsewhere: "这个实验已被重置。",
    workshop_ended_live: "本次工作坊已经结束：为你分配的集群空间正在被删除。感谢参与！",
    show_whole_value: "查看完整的值",
    set_up: "准备环境",
    set_up_help: "在集群中创建这一步需要的对象。",
    check: "检查",
    working: "处理中…",
    copy: "复制",
    copied: "已复制",
    copy_failed: "请按 Ctrl+C",
    show_hint: "显示提示",
    show_another_hint: "再显示一个提示",
    reset_lab: "重置实验",
    reset_confirm: "这会删除 kubelab 为本实验创建的对象，并清除你在本实验中的进度。你自己创建的对象会保留（之后可以再删除），其他章节仍在使用的也会保留。",
    reset_yes: "确定重置本实验",
    reset_done: "实验已重置",
    reset_deleted: "已删除",
    reset_nothing: "没有需要删除的对象。",
    reset_kept: "有意保留",
    result_passed: "全部检查通过",
    result_failed: "还没有完成",
    result_pending: "正在进行中",
    result_error: "有些检查无法执行",
    checked_at: "检查时间",
    verdict_passed: "通过",
    verdict_failed: "未通过",
    verdict_pending: "等待中",
    verdict_error: "出错",
    col_field: "字段",
    col_expected: "期望",
    col_found: "实际",
    whole_object: "（整个对象）",
    closest: "最接近的对象",
    no_checks: "这一步没有需要检查的内容：读完即可继续。",
    setup_done: "环境已准备好",
    setup_refused: "API Server 拒绝了一个对象",
    setup_refused_by_kubelab: "kubelab 拒绝了一个对象",
    setup_busy: "有对象仍在删除中",
    action_created: "已创建",
    action_configured: "已更新",
    action_unchanged: "未改变",
    api_server_said: "API Server 返回",
    from_file: "来自",
    setup_next: "现在按照步骤操作，然后点击“检查”。",
    no_cluster: "无法连接到任何 Kubernetes 集群。",
    no_cluster_help: "可以这样启动一个：",
    no_cluster_context: "或者用以下参数选择其他 kubeconfig context：",
    checking_cluster: "正在检查集群…",
    cluster_label: "集群",
    language: "语言",
    not_found_title: "找不到页面",
    not_found_body: "这里什么都没有。实验或步骤可能已经改名。",
    error_title: "出错了",
    back_home: "返回章节列表",
    no_labs: "还没有安装任何实验。",
    footer: "kubelab —— 实验在你自己的集群上运行，数据不会离开这台机器。",
    csrf_failed: "这个表单已过期，或者不是来自 kubelab。请刷新页面后重试。",
    store_failed: "kubelab 无法读取或保存你的进度。详细信息在服务器日志中；请确认数据库文件可写。",
    nothing_to_set_up: "这一步不需要准备环境。",
    hints_label: "提示",
    answer_placeholder: "你的答案",
    token_placeholder: "粘贴令牌（只用于验证，不会保存）",
    questions_label: "问题",
    on_step_for: "本步已用时",
    took: "用时",
    unit_h: "小时",
    unit_min: "分",
    unit_s: "秒",
    live_title: "集群中的对象",
    live_empty: "本实验的对象还不存在。",
    col_kind: "类型",
    col_name: "名称",
    col_status: "状态",
    col_age: "存在时间",
    conn_connecting: "连接中…",
    conn_live: "实时",
    conn_reconnecting: "正在重新连接集群…",
    conn_unavailable: "没有集群",
    conn_server: "正在重新连接 kubelab…",
    live_help: "集群状态一旦正确，步骤会自动变绿；随时可以点击“检查”查看详情。",
    hint_offer: "卡住一会儿了？这里有个提示。",
    celebrate_title: "实验完成！",
    celebrate_body: "你在真实的集群上完成了本章的每一步。",
    total_time: "总用时",
    next_chapter: "下一章",
    what_you_did: "你完成了什么",
    not_done_yet: "尚未完成",
};

/// The label of a step's life-cycle state.
pub fn state_label(t: &Ui, state: StepState) -> &'static str {
    match state {
        StepState::NotStarted => t.state_not_started,
        StepState::InProgress => t.state_in_progress,
        StepState::Passed => t.state_passed,
        StepState::Regressed => t.state_regressed,
    }
}

/// The UI strings in `lang`.
pub fn ui(lang: Lang) -> &'static Ui {
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// The words of workshop mode (joining, the learner's banner, the instructor pages).
#[derive(Debug)]
pub struct Ws {
    /// The join page's heading.
    pub join_title: &'static str,
    /// The join page's introduction.
    pub join_intro: &'static str,
    /// The join page's notice for a learner whose workshop ended (`{name}`: the workshop).
    pub workshop_over: &'static str,
    /// Join code field label.
    pub join_code: &'static str,
    /// Display name field label.
    pub join_name: &'static str,
    /// Under the name field.
    pub join_name_help: &'static str,
    /// Join button.
    pub join_button: &'static str,
    /// Error title: the workshop is full, ended or expired.
    pub closed_title: &'static str,
    /// Why an API call without a workshop session is refused.
    pub no_session: &'static str,
    /// Before the workshop's name.
    pub workshop_label: &'static str,
    /// Before the learner's display name.
    pub you_are: &'static str,
    /// Before the learner's namespace.
    pub your_namespace: &'static str,
    /// Before the workshop's end time.
    pub ends_at: &'static str,
    /// Heading of the own-terminal note.
    pub terminal_title: &'static str,
    /// The own-terminal note.
    pub terminal_help: &'static str,
    /// Kubeconfig download link.
    pub download_kubeconfig: &'static str,
    /// Instructor area name.
    pub instructor: &'static str,
    /// Instructor sign-in heading.
    pub login_title: &'static str,
    /// Instructor sign-in explanation.
    pub login_help: &'static str,
    /// Token field label.
    pub token: &'static str,
    /// Sign-in button.
    pub sign_in: &'static str,
    /// Why a sign-in was refused.
    pub wrong_token: &'static str,
    /// Why an instructor page was refused without a credential.
    pub need_instructor: &'static str,
    /// Heading of the workshop list.
    pub workshops: &'static str,
    /// Empty workshop list.
    pub no_workshops: &'static str,
    /// Heading of the create form.
    pub create_title: &'static str,
    /// Workshop name field.
    pub name: &'static str,
    /// Labs field.
    pub labs: &'static str,
    /// Capacity field.
    pub capacity: &'static str,
    /// Duration field.
    pub hours: &'static str,
    /// Create button.
    pub create_button: &'static str,
    /// Join code column.
    pub col_code: &'static str,
    /// Learner count column.
    pub col_learners: &'static str,
    /// State column.
    pub col_state: &'static str,
    /// A running workshop.
    pub running: &'static str,
    /// An ended workshop.
    pub ended: &'static str,
    /// Before the join link.
    pub join_link: &'static str,
    /// Heading of the grid.
    pub grid_title: &'static str,
    /// Under the grid heading.
    pub grid_help: &'static str,
    /// Empty grid.
    pub no_learners: &'static str,
    /// Learner column.
    pub learner: &'static str,
    /// Row actions column.
    pub actions: &'static str,
    /// Reset button.
    pub reset: &'static str,
    /// Reset every lab.
    pub all_labs: &'static str,
    /// Extend button.
    pub extend: &'static str,
    /// End button.
    pub end: &'static str,
    /// End confirmation text.
    pub end_confirm: &'static str,
    /// End confirmation button.
    pub end_yes: &'static str,
    /// Back link to the list.
    pub all_workshops: &'static str,
    /// After a number of minutes.
    pub minutes: &'static str,
    /// Title of the warning that learner kubeconfigs will not reach the API server.
    pub reach_title: &'static str,
    /// Before the API server URL in that warning.
    pub reach_names: &'static str,
    /// After the URL: it is an in-cluster address.
    pub reach_in_cluster: &'static str,
    /// After the URL: it is a loopback address.
    pub reach_loopback: &'static str,
    /// Before the command that fixes it.
    pub reach_fix: &'static str,
    /// After that command: certificate, CA, the Deployment, the terminal.
    pub reach_fix_more: &'static str,
    /// Label of the API server URL learner kubeconfigs name.
    pub kubeconfig_server: &'static str,
}

static WS_EN: Ws = Ws {
    join_title: "Join a workshop",
    join_intro: "Enter the code your instructor gave you and the name they will see. You get your own namespace on the workshop's cluster.",
    workshop_over: "The workshop “{name}” has ended, and the namespace it gave you has been removed. Thank you for taking part! To join another workshop, enter its code below.",
    join_code: "Join code",
    join_name: "Your name",
    join_name_help: "1 to 40 characters; the instructor sees it next to your progress.",
    join_button: "Join",
    closed_title: "This workshop cannot be used",
    no_session: "join a workshop first (no valid workshop session)",
    workshop_label: "Workshop",
    you_are: "Signed in as",
    your_namespace: "Your namespace",
    ends_at: "Ends at",
    terminal_title: "Use your own terminal",
    terminal_help: "Download your kubeconfig; it works only in your namespace and until the workshop ends. Then run:",
    download_kubeconfig: "Download kubeconfig",
    instructor: "Instructor",
    login_title: "Instructor sign-in",
    login_help: "Use the instructor token kubelab printed when it started in workshop mode (or the one given with --instructor-token).",
    token: "Instructor token",
    sign_in: "Sign in",
    wrong_token: "the instructor token is not right",
    need_instructor: "this needs the instructor credential",
    workshops: "Workshops",
    no_workshops: "No workshops yet.",
    create_title: "Create a workshop",
    name: "Name",
    labs: "Labs",
    capacity: "Learners (at most)",
    hours: "Duration (hours)",
    create_button: "Create",
    col_code: "Code",
    col_learners: "Learners",
    col_state: "State",
    running: "running",
    ended: "ended",
    join_link: "Join link",
    grid_title: "Learners × steps",
    grid_help: "Refreshes every few seconds. A number is the minutes a learner has spent on a step not done yet.",
    no_learners: "Nobody has joined yet. Share the join link.",
    learner: "Learner",
    actions: "Actions",
    reset: "Reset",
    all_labs: "all labs",
    extend: "Extend by 1 hour",
    end: "End workshop",
    end_confirm: "Ending deletes every learner's namespace and everything in it; their sessions stop working. This cannot be undone.",
    end_yes: "Yes, end it now",
    all_workshops: "All workshops",
    minutes: "min",
    reach_title: "Learners' kubeconfigs will not reach the API server",
    reach_names: "The kubeconfigs learners download name the API server",
    reach_in_cluster: " — kubelab's address for it from inside the cluster, which learners' own computers cannot reach.",
    reach_loopback: " — a loopback address: on a learner's computer it means that computer, not this cluster.",
    reach_fix: "Restart kubelab with the address learners reach the API server at:",
    reach_fix_more: "The API server's certificate must be valid for that name or IP (k3s: --tls-san); add --public-api-server-ca FILE when it is not signed by the cluster's CA. Running in the cluster: see the commented argument in deploy/deployment.yaml. The terminal in the browser works either way.",
    kubeconfig_server: "API server in learner kubeconfigs",
};

static WS_ZH: Ws = Ws {
    join_title: "加入工作坊",
    join_intro: "输入讲师给你的加入码，以及讲师能看到的名字。你会在工作坊的集群上得到自己的命名空间。",
    workshop_over: "工作坊“{name}”已经结束，为你分配的命名空间已被删除。感谢参与！如需加入另一个工作坊，请在下面输入它的加入码。",
    join_code: "加入码",
    join_name: "你的名字",
    join_name_help: "1 到 40 个字符；讲师会在你的进度旁看到它。",
    join_button: "加入",
    closed_title: "无法使用这个工作坊",
    no_session: "请先加入工作坊（没有有效的工作坊会话）",
    workshop_label: "工作坊",
    you_are: "当前身份",
    your_namespace: "你的命名空间",
    ends_at: "结束时间",
    terminal_title: "使用你自己的终端",
    terminal_help: "下载你的 kubeconfig；它只对你的命名空间有效，直到工作坊结束。然后运行：",
    download_kubeconfig: "下载 kubeconfig",
    instructor: "讲师",
    login_title: "讲师登录",
    login_help: "使用 kubelab 以工作坊模式启动时打印的讲师令牌（或用 --instructor-token 指定的令牌）。",
    token: "讲师令牌",
    sign_in: "登录",
    wrong_token: "讲师令牌不正确",
    need_instructor: "这需要讲师凭据",
    workshops: "工作坊",
    no_workshops: "还没有工作坊。",
    create_title: "创建工作坊",
    name: "名称",
    labs: "实验",
    capacity: "学员人数上限",
    hours: "时长（小时）",
    create_button: "创建",
    col_code: "加入码",
    col_learners: "学员",
    col_state: "状态",
    running: "进行中",
    ended: "已结束",
    join_link: "加入链接",
    grid_title: "学员 × 步骤",
    grid_help: "每隔几秒刷新。数字表示学员在尚未完成的步骤上已用的分钟数。",
    no_learners: "还没有人加入。请分享加入链接。",
    learner: "学员",
    actions: "操作",
    reset: "重置",
    all_labs: "全部实验",
    extend: "延长 1 小时",
    end: "结束工作坊",
    end_confirm: "结束会删除每位学员的命名空间及其中的一切，他们的会话将失效。此操作无法撤销。",
    end_yes: "是的，立即结束",
    all_workshops: "全部工作坊",
    minutes: "分钟",
    reach_title: "学员的 kubeconfig 连不上 API 服务器",
    reach_names: "学员下载的 kubeconfig 中写的 API 服务器地址是",
    reach_in_cluster: "——这是 kubelab 在集群内部访问它的地址，学员自己的电脑无法访问。",
    reach_loopback: "——这是回环地址：在学员的电脑上它指向那台电脑本身，而不是这个集群。",
    reach_fix: "请用学员能访问到的 API 服务器地址重新启动 kubelab：",
    reach_fix_more: "API 服务器的证书必须包含该域名或 IP（k3s：--tls-san）；如果证书不是由集群 CA 签发的，再加上 --public-api-server-ca FILE。在集群中运行时：见 deploy/deployment.yaml 中注释掉的参数。浏览器中的终端不受影响。",
    kubeconfig_server: "学员 kubeconfig 中的 API 服务器",
};

/// The workshop words in the language of `t`.
pub fn ws_like(t: &Ui) -> &'static Ws {
    if t.html_lang == ZH.html_lang {
        &WS_ZH
    } else {
        &WS_EN
    }
}

/// The workshop words in `lang`.
pub fn ws(lang: Lang) -> &'static Ws {
    match lang {
        Lang::En => &WS_EN,
        Lang::Zh => &WS_ZH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_differ_where_it_matters() {
        assert_ne!(ui(Lang::En).check, ui(Lang::Zh).check);
        assert_eq!(ui(Lang::Zh).html_lang, "zh-CN");
        assert_eq!(ui(Lang::En).html_lang, "en");
    }

    #[test]
    fn workshop_words_exist_in_both_languages() {
        assert_ne!(ws(Lang::En).join_title, ws(Lang::Zh).join_title);
        assert_ne!(ws(Lang::En).end_confirm, ws(Lang::Zh).end_confirm);
        for (en, zh) in [
            (ws(Lang::En).reach_title, ws(Lang::Zh).reach_title),
            (ws(Lang::En).reach_in_cluster, ws(Lang::Zh).reach_in_cluster),
            (ws(Lang::En).reach_loopback, ws(Lang::Zh).reach_loopback),
            (ws(Lang::En).reach_fix_more, ws(Lang::Zh).reach_fix_more),
        ] {
            assert_ne!(en, zh);
            assert!(!en.is_empty() && !zh.is_empty());
        }
    }
}
