-- Versioned migration: applied once, in order.
create table if not exists products (
    product_id   bigint identity(1, 1),
    product_name varchar(200) not null,
    price        decimal(10, 2) not null,
    status       varchar(10) not null default 'ACTIVE',
    close_date   date
);

create table if not exists products_staging (
    product_name varchar(200) not null,
    price        decimal(10, 2) not null
);
