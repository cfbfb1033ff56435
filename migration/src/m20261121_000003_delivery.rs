//! Delivery: course access per user, downloadable materials and their versions, private
//! download links with a download limit, and update campaigns mailed to buyers.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserCourses {
    Table,
    Id,
    UserId,
    CourseId,
    OrderId,
    GrantedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Materials {
    Table,
    Id,
    CourseId,
    Name,
    Version,
    ObjectKey,
    Filename,
    SizeBytes,
    ContentType,
    CreatedTime,
}

#[derive(DeriveIden)]
enum DownloadLinks {
    Table,
    Id,
    Token,
    OrderId,
    UserId,
    CourseId,
    MaterialName,
    IssueKey,
    DownloadsLeft,
    MaxDownloads,
    CreatedTime,
    RevokedAt,
    LastDownloadAt,
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    CourseId,
    Subject,
    Message,
    NewVersion,
    DedupeKey,
    Recipients,
    CreatedTime,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserCourses::Table)
                    .col(big_pk_auto(UserCourses::Id))
                    .col(big_integer(UserCourses::UserId))
                    .col(big_integer(UserCourses::CourseId))
                    .col(big_integer_null(UserCourses::OrderId))
                    .col(timestamp_with_time_zone(UserCourses::GrantedAt))
                    .col(timestamp_with_time_zone_null(UserCourses::ExpiresAt))
                    .col(timestamp_with_time_zone_null(UserCourses::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_user_courses_user",
                        (UserCourses::Table, UserCourses::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_user_courses_course",
                        (UserCourses::Table, UserCourses::CourseId),
                        (Courses::Table, Courses::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_user_courses_order",
                        (UserCourses::Table, UserCourses::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_user_courses_user_course",
                UserCourses::Table,
                &["user_id", "course_id"],
            ))
            .await?;
        manager.create_index(index("ix_user_courses_course", UserCourses::Table, &["course_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Materials::Table)
                    .col(big_pk_auto(Materials::Id))
                    .col(big_integer(Materials::CourseId))
                    .col(string_len(Materials::Name, 64))
                    .col(string_len(Materials::Version, 32))
                    .col(string_len(Materials::ObjectKey, 512))
                    .col(string_len(Materials::Filename, 255))
                    .col(big_integer(Materials::SizeBytes))
                    .col(string_len(Materials::ContentType, 128))
                    .col(timestamp_with_time_zone(Materials::CreatedTime))
                    .foreign_key(&mut fk(
                        "fk_materials_course",
                        (Materials::Table, Materials::CourseId),
                        (Courses::Table, Courses::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_materials_course_name_version",
                Materials::Table,
                &["course_id", "name", "version"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DownloadLinks::Table)
                    .col(big_pk_auto(DownloadLinks::Id))
                    .col(string_len(DownloadLinks::Token, 64))
                    .col(big_integer(DownloadLinks::OrderId))
                    .col(big_integer(DownloadLinks::UserId))
                    .col(big_integer(DownloadLinks::CourseId))
                    .col(string_len(DownloadLinks::MaterialName, 64))
                    .col(string_len(DownloadLinks::IssueKey, 64))
                    .col(integer(DownloadLinks::DownloadsLeft))
                    .col(integer(DownloadLinks::MaxDownloads))
                    .col(timestamp_with_time_zone(DownloadLinks::CreatedTime))
                    .col(timestamp_with_time_zone_null(DownloadLinks::RevokedAt))
                    .col(timestamp_with_time_zone_null(DownloadLinks::LastDownloadAt))
                    .check(Expr::col(DownloadLinks::DownloadsLeft).gte(0))
                    .foreign_key(&mut fk(
                        "fk_download_links_order",
                        (DownloadLinks::Table, DownloadLinks::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_download_links_user",
                        (DownloadLinks::Table, DownloadLinks::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique("uq_download_links_token", DownloadLinks::Table, &["token"])).await?;
        manager
            .create_index(unique(
                "uq_download_links_issue",
                DownloadLinks::Table,
                &["order_id", "course_id", "material_name", "issue_key"],
            ))
            .await?;
        manager.create_index(index("ix_download_links_user", DownloadLinks::Table, &["user_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .col(big_pk_auto(Campaigns::Id))
                    .col(big_integer(Campaigns::CourseId))
                    .col(string_len(Campaigns::Subject, 256))
                    .col(text(Campaigns::Message))
                    .col(string_len_null(Campaigns::NewVersion, 32))
                    .col(string_len(Campaigns::DedupeKey, 64))
                    .col(integer(Campaigns::Recipients).default(0))
                    .col(timestamp_with_time_zone(Campaigns::CreatedTime))
                    .foreign_key(&mut fk(
                        "fk_campaigns_course",
                        (Campaigns::Table, Campaigns::CourseId),
                        (Courses::Table, Courses::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique("uq_campaigns_dedupe_key", Campaigns::Table, &["dedupe_key"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Campaigns::Table.into_iden(),
            DownloadLinks::Table.into_iden(),
            Materials::Table.into_iden(),
            UserCourses::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
