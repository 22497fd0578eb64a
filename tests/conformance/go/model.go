// Mattermost's wire types for Connected Workspaces, written from mattermost-protocol.md §1.7–§1.9 (field
// names, JSON tags and Go types as Mattermost declares them; omitempty where Mattermost has it). Decoding
// into these with encoding/json is what a real Mattermost peer does with every frame it receives.
package main

import "encoding/json"

// StringMap and StringInterface are Mattermost's model.StringMap / model.StringInterface.
type StringMap map[string]string
type StringInterface map[string]any
type StringArray []string

type RemoteClusterFrame struct {
	RemoteId string           `json:"remote_id"`
	Msg      RemoteClusterMsg `json:"msg"`
}

type RemoteClusterMsg struct {
	Id       string          `json:"id"`
	Topic    string          `json:"topic"`
	CreateAt int64           `json:"create_at"`
	Payload  json.RawMessage `json:"payload"`
}

type RemoteClusterPing struct {
	SentAt int64 `json:"sent_at"`
	RecvAt int64 `json:"recv_at"`
}

type RemoteClusterInvite struct {
	RemoteId       string `json:"remote_id"`
	RemoteTeamId   string `json:"remote_team_id"`
	SiteURL        string `json:"site_url"`
	Token          string `json:"token"`
	RefreshedToken string `json:"refreshed_token,omitempty"`
	Version        int    `json:"version,omitempty"`
}

// Response is remotecluster.Response: the reply body of /msg and /confirm_invite.
type Response struct {
	Status  string          `json:"status"`
	Err     string          `json:"err"`
	Payload json.RawMessage `json:"payload"`
}

type SyncMsg struct {
	Id                string                 `json:"id"`
	ChannelId         string                 `json:"channel_id"`
	Users             map[string]*User       `json:"users,omitempty"`
	Posts             []*Post                `json:"posts,omitempty"`
	Reactions         []*Reaction            `json:"reactions,omitempty"`
	Statuses          []*Status              `json:"statuses,omitempty"`
	MembershipChanges []*MembershipChangeMsg `json:"membership_changes,omitempty"`
	Acknowledgements  []*PostAcknowledgement `json:"acknowledgements,omitempty"`
	MentionTransforms map[string]string      `json:"mention_transforms,omitempty"`
}

type MembershipChangeMsg struct {
	ChannelId  string `json:"channel_id"`
	UserId     string `json:"user_id"`
	IsAdd      bool   `json:"is_add"`
	RemoteId   string `json:"remote_id"`
	ChangeTime int64  `json:"change_time"`
}

type SyncResponse struct {
	UsersLastUpdateAt            int64    `json:"users_last_update_at"`
	UserErrors                   []string `json:"user_errors"`
	UsersSyncd                   []string `json:"users_syncd"`
	PostsLastUpdateAt            int64    `json:"posts_last_update_at"`
	PostErrors                   []string `json:"post_errors"`
	ReactionsLastUpdateAt        int64    `json:"reactions_last_update_at"`
	ReactionErrors               []string `json:"reaction_errors"`
	AcknowledgementsLastUpdateAt int64    `json:"acknowledgements_last_update_at"`
	AcknowledgementErrors        []string `json:"acknowledgement_errors"`
	StatusErrors                 []string `json:"status_errors"`
	MembershipErrors             []string `json:"membership_errors,omitempty"`
}

// ChannelInviteMsg is sharedchannel's (unexported) channelInviteMsg.
type ChannelInviteMsg struct {
	ChannelId            string   `json:"channel_id"`
	TeamId               string   `json:"team_id"`
	ReadOnly             bool     `json:"read_only"`
	Name                 string   `json:"name"`
	DisplayName          string   `json:"display_name"`
	Header               string   `json:"header"`
	Purpose              string   `json:"purpose"`
	Type                 string   `json:"type"`
	CreatorId            string   `json:"creator_id"`
	DirectParticipantIDs []string `json:"direct_participant_ids"`
	DirectParticipants   []*User  `json:"direct_participants"`
}

// UnshareMsg is the payload of sharedchannel_unshare (only some Mattermost versions have the topic).
type UnshareMsg struct {
	ChannelId string `json:"channel_id"`
	RemoteId  string `json:"remote_id"`
}

type UploadSession struct {
	Id         string `json:"id"`
	Type       string `json:"type"`
	CreateAt   int64  `json:"create_at"`
	UserId     string `json:"user_id"`
	ChannelId  string `json:"channel_id"`
	Filename   string `json:"filename"`
	Path       string `json:"-"`
	FileSize   int64  `json:"file_size"`
	FileOffset int64  `json:"file_offset"`
	RemoteId   string `json:"remote_id"`
	ReqFileId  string `json:"req_file_id"`
}

type Post struct {
	Id            string          `json:"id"`
	CreateAt      int64           `json:"create_at"`
	UpdateAt      int64           `json:"update_at"`
	EditAt        int64           `json:"edit_at"`
	DeleteAt      int64           `json:"delete_at"`
	IsPinned      bool            `json:"is_pinned"`
	UserId        string          `json:"user_id"`
	ChannelId     string          `json:"channel_id"`
	RootId        string          `json:"root_id"`
	OriginalId    string          `json:"original_id"`
	Message       string          `json:"message"`
	MessageSource string          `json:"message_source,omitempty"`
	Type          string          `json:"type"`
	Props         StringInterface `json:"props"`
	Hashtags      string          `json:"hashtags"`
	Filenames     StringArray     `json:"-"`
	FileIds       StringArray     `json:"file_ids"`
	PendingPostId string          `json:"pending_post_id"`
	HasReactions  bool            `json:"has_reactions,omitempty"`
	RemoteId      *string         `json:"remote_id,omitempty"`
	ReplyCount    int64           `json:"reply_count"`
	LastReplyAt   int64           `json:"last_reply_at"`
	Participants  []*User         `json:"participants"`
	IsFollowing   *bool           `json:"is_following,omitempty"`
	Metadata      *PostMetadata   `json:"metadata,omitempty"`
}

type PostMetadata struct {
	Embeds           []*PostEmbed           `json:"embeds,omitempty"`
	Emojis           []*Emoji               `json:"emojis,omitempty"`
	Files            []*FileInfo            `json:"files,omitempty"`
	Images           map[string]*PostImage  `json:"images,omitempty"`
	Reactions        []*Reaction            `json:"reactions,omitempty"`
	Priority         *PostPriority          `json:"priority,omitempty"`
	Acknowledgements []*PostAcknowledgement `json:"acknowledgements,omitempty"`
}

type PostPriority struct {
	Priority                *string `json:"priority"`
	RequestedAck            *bool   `json:"requested_ack"`
	PersistentNotifications *bool   `json:"persistent_notifications"`
}

type PostEmbed struct {
	Type string `json:"type"`
	URL  string `json:"url"`
	Data any    `json:"data,omitempty"`
}

type Emoji struct {
	Id        string `json:"id"`
	CreateAt  int64  `json:"create_at"`
	UpdateAt  int64  `json:"update_at"`
	DeleteAt  int64  `json:"delete_at"`
	CreatorId string `json:"creator_id"`
	Name      string `json:"name"`
}

type PostImage struct {
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Format     string `json:"format"`
	FrameCount int    `json:"frame_count"`
}

type PostAcknowledgement struct {
	UserId         string `json:"user_id"`
	PostId         string `json:"post_id"`
	AcknowledgedAt int64  `json:"acknowledged_at"`
	ChannelId      string `json:"channel_id"`
	RemoteId       string `json:"remote_id,omitempty"`
}

type Reaction struct {
	UserId    string  `json:"user_id"`
	PostId    string  `json:"post_id"`
	EmojiName string  `json:"emoji_name"`
	CreateAt  int64   `json:"create_at"`
	UpdateAt  int64   `json:"update_at"`
	DeleteAt  int64   `json:"delete_at"`
	RemoteId  *string `json:"remote_id"`
	ChannelId string  `json:"channel_id"`
}

type Status struct {
	UserId         string `json:"user_id"`
	Status         string `json:"status"`
	Manual         bool   `json:"manual"`
	LastActivityAt int64  `json:"last_activity_at"`
	ActiveChannel  string `json:"active_channel,omitempty"`
	DNDEndTime     int64  `json:"dnd_end_time"`
	PrevStatus     string `json:"-"`
}

type FileInfo struct {
	Id              string  `json:"id"`
	CreatorId       string  `json:"user_id"`
	PostId          string  `json:"post_id,omitempty"`
	ChannelId       string  `json:"channel_id"`
	CreateAt        int64   `json:"create_at"`
	UpdateAt        int64   `json:"update_at"`
	DeleteAt        int64   `json:"delete_at"`
	Path            string  `json:"-"`
	ThumbnailPath   string  `json:"-"`
	PreviewPath     string  `json:"-"`
	Name            string  `json:"name"`
	Extension       string  `json:"extension"`
	Size            int64   `json:"size"`
	MimeType        string  `json:"mime_type"`
	Width           int     `json:"width,omitempty"`
	Height          int     `json:"height,omitempty"`
	HasPreviewImage bool    `json:"has_preview_image,omitempty"`
	MiniPreview     *[]byte `json:"mini_preview"`
	Content         string  `json:"-"`
	RemoteId        *string `json:"remote_id"`
	Archived        bool    `json:"archived"`
}

type User struct {
	Id                     string    `json:"id"`
	CreateAt               int64     `json:"create_at,omitempty"`
	UpdateAt               int64     `json:"update_at,omitempty"`
	DeleteAt               int64     `json:"delete_at"`
	Username               string    `json:"username"`
	Password               string    `json:"password,omitempty"`
	AuthData               *string   `json:"auth_data,omitempty"`
	AuthService            string    `json:"auth_service"`
	Email                  string    `json:"email"`
	EmailVerified          bool      `json:"email_verified,omitempty"`
	Nickname               string    `json:"nickname"`
	FirstName              string    `json:"first_name"`
	LastName               string    `json:"last_name"`
	Position               string    `json:"position"`
	Roles                  string    `json:"roles"`
	AllowMarketing         bool      `json:"allow_marketing,omitempty"`
	Props                  StringMap `json:"props,omitempty"`
	NotifyProps            StringMap `json:"notify_props,omitempty"`
	LastPasswordUpdate     int64     `json:"last_password_update,omitempty"`
	LastPictureUpdate      int64     `json:"last_picture_update,omitempty"`
	FailedAttempts         int       `json:"failed_attempts,omitempty"`
	Locale                 string    `json:"locale"`
	Timezone               StringMap `json:"timezone"`
	MfaActive              bool      `json:"mfa_active,omitempty"`
	MfaSecret              string    `json:"mfa_secret,omitempty"`
	RemoteId               *string   `json:"remote_id,omitempty"`
	LastActivityAt         int64     `json:"last_activity_at,omitempty"`
	IsBot                  bool      `json:"is_bot,omitempty"`
	BotDescription         string    `json:"bot_description,omitempty"`
	BotLastIconUpdate      int64     `json:"bot_last_icon_update,omitempty"`
	TermsOfServiceId       string    `json:"terms_of_service_id,omitempty"`
	TermsOfServiceCreateAt int64     `json:"terms_of_service_create_at,omitempty"`
	DisableWelcomeEmail    bool      `json:"disable_welcome_email"`
	LastLogin              int64     `json:"last_login,omitempty"`
}
